"""The session's real kind (see harness.py) and, over it, kindfleet driving that kind
(see fleets.py). Skips with the reason when docker, kind, kubectl or what the images are
built from is missing; removes what the run made even when a test fails.

Everything a test imports from here lives in harness.py or fleets.py, never in this
conftest: pytest may import a conftest under two module names (tests/integration has no
__init__.py), and a run prefix defined here would then differ between fixture and test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.doubles.kindnode import images, wrapper
from tests.integration.kindreal.article import Article, bring_up
from tests.integration.kindreal.fleets import KindfleetEnv, make_env
from tests.integration.kindreal.harness import PREFIX, Kind, find_kind, sweep, unavailable


@pytest.fixture(scope="session")
def kind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kind]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    binary = find_kind()
    assert binary is not None
    try:
        node_image = images.node_image()
        images.load_balancer_image(binary)
    except RuntimeError as exc:
        pytest.skip(f"could not build the simulated node images here: {exc}")
    tmp = tmp_path_factory.mktemp("kindreal")
    bin_dir, home = tmp / "bin", tmp / "home"
    home.mkdir()
    log = tmp / "docker-calls.jsonl"
    wrapper.write(bin_dir, log)
    (bin_dir / "kind").symlink_to(binary)  # kindfleet runs `kind` from PATH: this one
    network = f"{PREFIX}-net"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
           "KUBECONFIG": str(tmp / "kube/config"), "KIND_EXPERIMENTAL_DOCKER_NETWORK": network}  # fmt: skip
    for key in ("KIND_CLUSTER_NAME", "KINDFLEET_FILE", "KINDFLEET_PROVIDER", "DOCKER_HOST"):
        env.pop(key, None)
    runner = Kind(binary, env, network, log, node_image, tmp / "kube/config")
    try:
        yield runner
    finally:
        for name in runner.clusters:
            runner("delete", "cluster", "--name", name, check=False)
        sweep(PREFIX, network)


@pytest.fixture(scope="session")
def kindfleet_env(kind: Kind, tmp_path_factory: pytest.TempPathFactory) -> KindfleetEnv:
    """kindfleet over the real kind: its registry image and Calico manifest made here."""
    try:
        return make_env(kind, tmp_path_factory.mktemp("kindfleet"))
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def article(kindfleet_env: KindfleetEnv) -> Iterator[Article]:
    """The article-shaped fleet (article.py), up once for the session, down at its end."""
    brought = bring_up(kindfleet_env)
    try:
        yield brought
    finally:
        brought.fleet().down(kubeconfig=brought.kubeconfig)


@pytest.fixture
def up(article: Article) -> Article:
    """The article fleet, failing the test (with kindfleet's own words) if it did not come up."""
    if article.error is not None:
        pytest.fail(f"the article fleet did not come up: {article.error}")
    return article
