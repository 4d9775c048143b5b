"""Every version kindfleet pins that only the network can confirm, in one list, each with
where to confirm it and where it is used.

These are promises about other projects' releases: kind's (and the node images it
published), Calico's manifest, uv, the registry image of kind's guide. Nothing here can
be checked offline; `scripts/pins_drift.py` (run nightly by the e2e-kind workflow) reads
each source and reports a pin that no longer holds or a newer release, and
`tests/unit/test_pins.py` keeps the copies outside Python (Makefile, Dockerfile,
workflows) equal to these values.

The node images stay in `kindfleet.kind.images` (the fleet file resolves versions against
them); they are listed here by reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kindfleet.kind import images

KIND_VERSION = images.KIND_VERSION
NODE_IMAGES = images.IMAGES

# Calico v3.33.x was not released when this was pinned: projectcalico/calico's
# release-v3.33 branch still named its images `:release-v3.33` on 2026-08-21, and
# v3.32.1 (2026-06-24) was the newest release. The checksum is that tag's
# manifests/calico.yaml, the bytes raw.githubusercontent.com serves for it.
CALICO_VERSION = "v3.32.1"
CALICO_MANIFEST_SHA256 = {
    "v3.32.1": "a1df919d9721cf667accdc3e72848911b0cb25cfab7d2478ad0c996302c95744",
}
UV_VERSION = "0.13.9"
REGISTRY_IMAGE = "registry:3"
PYTHON_IMAGE = "python:3.11-slim"


@dataclass(frozen=True)
class Pin:
    name: str
    value: str
    source: str  # where a person (or the drift job) confirms it
    used_in: tuple[str, ...]


PINS: tuple[Pin, ...] = (
    Pin(
        "kind",
        KIND_VERSION,
        f"https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}",
        (
            "src/kindfleet/kind/images.py",
            ".github/workflows/e2e-kind.yml",
            "src/kindfleet/providers/kind/kindcli.py",
        ),
    ),
    *(
        Pin(
            f"node image {version}",
            ref,
            f"https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}",
            ("src/kindfleet/kind/images.py",),
        )
        for version, ref in NODE_IMAGES.items()
    ),
    Pin(
        "calico",
        CALICO_VERSION,
        f"https://github.com/projectcalico/calico/releases/tag/{CALICO_VERSION}",
        ("src/kindfleet/render/calico.py",),
    ),
    Pin(
        "calico manifest sha256",
        CALICO_MANIFEST_SHA256[CALICO_VERSION],
        f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/calico.yaml",
        ("src/kindfleet/lifecycle/calicosource.py",),
    ),
    Pin(
        "uv",
        UV_VERSION,
        f"https://pypi.org/project/uv/{UV_VERSION}/",
        ("Makefile", "Dockerfile"),
    ),
    Pin(
        "registry image",
        REGISTRY_IMAGE,
        "https://github.com/kubernetes-sigs/kind/blob/main/site/static/examples/kind-with-registry.sh",
        ("src/kindfleet/fleetspec/model.py",),
    ),
    Pin(
        "python base image",
        PYTHON_IMAGE,
        "https://hub.docker.com/_/python",
        ("Dockerfile",),
    ),
)

# Pulled on the machine that runs a fleet, once each (the e2e workflow pulls them before
# the tests, logged in when it can): the registry's image and the platform image's base.
HOST_IMAGES = (REGISTRY_IMAGE, PYTHON_IMAGE)


@dataclass(frozen=True)
class Observed:
    """What a pin's source says today (read by `scripts/pins_drift.py`).

    `holds`: the pinned value is still what the source publishes (the release exists, the
    checksum matches, the image is listed); `latest`: the newest release the source lists,
    where it has releases; `error`: the source could not be read."""

    pin: Pin
    holds: bool = True
    latest: str | None = None
    error: str | None = None


def version_key(version: str) -> tuple[int, ...] | None:
    """`v0.33.0` or `0.13.9` as numbers to compare; None for anything else (a pre-release,
    a tag like `3.11-slim`), which is never called newer."""
    parts = version.removeprefix("v").split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def is_newer(latest: str, pinned: str) -> bool:
    new, old = version_key(latest), version_key(pinned)
    return new is not None and old is not None and new > old


def drift(observed: Sequence[Observed]) -> list[str]:
    """One line per pin that drifted: it no longer holds, a newer release exists, or its
    source could not be read. Empty: every pin is as its source says."""
    lines = []
    for seen in observed:
        pin = seen.pin
        if seen.error:
            lines.append(f"{pin.name}: could not read {pin.source}: {seen.error}")
        elif not seen.holds:
            lines.append(
                f"{pin.name}: {pin.value} no longer holds at {pin.source} "
                f"(used in {', '.join(pin.used_in)})"
            )
        elif seen.latest and is_newer(seen.latest, pin.value):
            lines.append(f"{pin.name}: {pin.value} pinned, {seen.latest} released ({pin.source})")
    return lines
