"""The platform image, built for real from the repository's Dockerfile (on a Python base
made here from Debian's packages), then run: non-root, the hub answers /healthz and the
image's HEALTHCHECK says healthy, the agent's entry point starts. Its size is printed."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest
from tests.conftest import ROOT
from tests.integration.deploy import baseimage
from tests.integration.docker.conftest import PREFIX

from kindfleet.deploy.image import build_cmd
from kindfleet.exec import ProcessRunner

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="session")
def python_base(engine):
    """KINDFLEET_TEST_PYTHON_IMAGE (e.g. python:3.11-slim where Docker Hub answers), else the
    Debian base made here."""
    given = os.environ.get("KINDFLEET_TEST_PYTHON_IMAGE")
    if given:
        return given
    reason = baseimage.unavailable()
    if reason and not baseimage.exists():
        pytest.skip(reason)
    try:
        baseimage.ensure()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not build the Python base image from Debian's packages: {exc}")
    return baseimage.TAG


@pytest.fixture(scope="session")
def platform_image(python_base):
    tag = f"kindfleet-test/platform:{PREFIX}"  # removed by the session's sweep
    command = build_cmd(ROOT, tag, {"PYTHON_IMAGE": python_base})
    ProcessRunner().run(command)
    return tag


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=120
    )


@pytest.fixture
def tokens(tmp_path):
    directory = tmp_path / "tokens"
    directory.mkdir()
    (directory / "client").write_text("client-token-for-the-image-test\n")  # and nothing else:
    # the image's hub needs no fleet-wide spoke token (spokes join with join tokens)
    for path in (tmp_path, directory, *directory.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's uid 10001
    return directory


def test_the_image_runs_the_hub_as_non_root_and_is_healthy(platform_image, tokens, record_property):
    config = json.loads(docker("image", "inspect", platform_image).stdout)[0]
    assert config["Config"]["User"] == "10001:10001"
    size = config["Size"]
    record_property("image_size_bytes", size)
    print(f"\nplatform image {platform_image}: {size / 2**20:.0f} MiB")

    container = f"{PREFIX}-image-hub"
    docker("run", "--detach", "--name", container, "--publish", "127.0.0.1::8080",
           "--volume", f"{tokens}:/etc/kindfleet/tokens:ro",
           "--health-interval", "1s", "--health-start-period", "30s", platform_image)  # fmt: skip
    try:
        assert docker("exec", container, "id", "-u").stdout.strip() == "10001"
        port = docker("port", container, "8080/tcp").stdout.split()[0].rpartition(":")[2]
        deadline = time.monotonic() + 60
        health = ""
        while time.monotonic() < deadline:
            state = json.loads(docker("inspect", container).stdout)[0]["State"]
            assert state["Running"], docker("logs", container, check=False).stderr
            health = state["Health"]["Status"]
            if health == "healthy":
                break
            time.sleep(0.5)
        assert health == "healthy", docker("logs", container, check=False).stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
        # the hub's store is on the non-root user's own directory
        assert (
            docker("exec", container, "ls", "/var/lib/kindfleet").stdout.split().count("hub.db")
            == 1
        )
    finally:
        docker("rm", "--force", container, check=False)


def test_the_agent_entry_point_starts(platform_image):
    result = docker("run", "--rm", platform_image, "kindfleet.platform.agent", "--help")
    assert "--executor" in result.stdout
    health = docker("run", "--rm", platform_image, "kindfleet.platform.health", "--help")
    assert "hub" in health.stdout and "agent" in health.stdout


def test_the_image_holds_no_dev_tools_and_no_tests(platform_image):
    listing = docker("run", "--rm", "--entrypoint", "sh", platform_image, "-c",
                     "ls /opt/kindfleet/bin; ls /opt/kindfleet/lib/python3*/site-packages").stdout.split()  # fmt: skip
    for absent in ("pytest", "mypy", "ruff", "kubernetes_validate", "hypothesis", "tests"):
        assert absent not in listing
    assert "kindfleet" in listing and "uvicorn" in listing
