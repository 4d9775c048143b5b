"""Node images per Kubernetes version, for the one kind release kindfleet is pinned to.

KIND's own rule: a node image is only guaranteed to work with the kind release it was
built for, and only when pulled by digest. So versions resolve against the images that
release published (its release notes), never against a bare tag. Other versions, or
other releases' images, go through `nodeImage`, on the user's own responsibility.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KIND_VERSION = "v0.33.0"
RELEASE_NOTES = f"https://github.com/kubernetes-sigs/kind/releases/tag/{KIND_VERSION}"

# "Images pre-built for this release" from the v0.33.0 release notes, newest first.
IMAGES: dict[str, str] = {
    "v1.37.0": "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
    "v1.36.4": "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
    "v1.35.8": "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
    "v1.34.11": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",
}
DEFAULT_VERSION = "v1.37.0"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")
_IMAGE_TAG = re.compile(r":v?(\d+\.\d+(?:\.\d+)?)(?:@|$)")


@dataclass(frozen=True)
class ImageProblem:
    message: str
    fix: str


def _minor(version: str) -> str:
    major, minor, _ = version.lstrip("v").split(".")
    return f"{major}.{minor}"


def available() -> list[str]:
    return list(IMAGES)


def choose(*, version: str | None, image: str | None) -> tuple[str, str, ImageProblem | None]:
    """(Kubernetes version, node image, problem) for a cluster's version and image settings.

    An explicit image wins; its tag tells the version when it has one. A version given as
    `1.31` takes the newest patch this kind release published for that minor.
    """
    if image:
        tag = _IMAGE_TAG.search(image)
        return (f"v{tag.group(1)}" if tag else "unknown"), image, None
    if version is None:
        return DEFAULT_VERSION, IMAGES[DEFAULT_VERSION], None
    match = _VERSION.match(version.strip())
    if not match:
        return (
            DEFAULT_VERSION,
            IMAGES[DEFAULT_VERSION],
            ImageProblem(f"{version!r} is not a Kubernetes version", 'write "1.35" or "v1.35.8"'),
        )
    major, minor, patch = match.groups()
    if patch is None:
        for known, ref in IMAGES.items():
            if _minor(known) == f"{major}.{minor}":
                return known, ref, None
    else:
        exact = f"v{major}.{minor}.{patch}"
        if exact in IMAGES:
            return exact, IMAGES[exact], None
    published = ", ".join(IMAGES)
    return (
        DEFAULT_VERSION,
        IMAGES[DEFAULT_VERSION],
        ImageProblem(
            f"kind {KIND_VERSION} publishes no node image for Kubernetes {version}",
            f"use one of {published}, or set nodeImage to one you built (kind build node-image)",
        ),
    )
