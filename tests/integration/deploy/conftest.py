"""The Docker fixtures of tests/integration/docker (one run prefix, swept by label and
name at the end), plus the image the deploy tests ship: a tiny busybox image made here,
since no image can be pulled."""

from __future__ import annotations

import subprocess

import pytest
from tests.integration.docker.conftest import (  # noqa: F401 (fixtures)
    PREFIX,
    double,
    engine,
    name,
    node_image,
    registry_image,
)


@pytest.fixture
def smoke_image(node_image, name):  # noqa: F811
    """A locally imported image under a name of this test's own (removed by the sweep)."""
    tag = f"kindfleet-test/platform-smoke:{name}"
    subprocess.run(["docker", "tag", node_image, tag], check=True, capture_output=True)
    return tag


__all__ = ["PREFIX"]
