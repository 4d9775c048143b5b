"""A Python base image for building the platform image here, where no image can be pulled:
Debian bookworm from Debian's mirror (reachable) with `debootstrap --variant=minbase`,
python3, python3-venv and python3-pip, and a `python` link, as the official python image
has. It trusts what this machine trusts (its extra CA certificates: egress here goes
through an intercepting proxy) so pip and uv inside `docker build` reach PyPI.

It takes about a minute, so the image is kept under its tag between runs and only built
when missing: `docker rmi kindfleet-test/python:3.11-bookworm` makes it anew.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

TAG = "kindfleet-test/python:3.11-bookworm"
MIRROR = os.environ.get("KINDFLEET_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
TRIM = ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man",
        "usr/share/locale", "usr/share/info")  # fmt: skip
EXTRA_CAS = Path("/usr/local/share/ca-certificates")
ENV = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
    'CMD ["python3"]',
]


def exists(tag: str = TAG) -> bool:
    probe = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return probe.returncode == 0


def unavailable() -> str | None:
    """Why the base image cannot be built here, or None."""
    if shutil.which("debootstrap") is None:
        return "debootstrap not installed (apt-get install debootstrap)"
    if os.geteuid() != 0:
        return "debootstrap needs root"
    return None


def _run(*argv: str, timeout: float = 900) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise RuntimeError(f"`{' '.join(argv[:3])} ...` failed: " + " | ".join(lines))


def build(tag: str = TAG) -> None:
    with tempfile.TemporaryDirectory(prefix="kindfleet-base-") as tmp:
        root = Path(tmp) / "root"
        _run(
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            "bookworm",
            str(root),
            MIRROR,
        )
        for extra in sorted(EXTRA_CAS.glob("*.crt")):
            target = root / "usr/local/share/ca-certificates" / extra.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(extra, target)
        _run("chroot", str(root), "update-ca-certificates")
        for path in TRIM:
            for child in (root / path).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        (root / "usr/bin/python").symlink_to("python3")
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        argv = ["docker", "import"]
        for change in ENV:
            argv += ["--change", change]
        _run(*argv, str(archive), tag)


def ensure(tag: str = TAG) -> None:
    """The base image under `tag`, built once and then kept (RuntimeError when it cannot)."""
    if not exists(tag):
        build(tag)
