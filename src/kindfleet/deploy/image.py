"""The platform image: its name, where it comes from, how it reaches the clusters (pure).

One of three ways, decided from the fleet and the flags before anything runs, so that a
dry run can say what would happen: built (or given) and pushed to the fleet's registry,
which every node pulls from; built (or given) and `kind load`ed into every cluster when
the fleet has no registry; or, on clusters kindfleet does not run, an image they can pull
already (`--image`). The docker commands are values, so tests compare them exactly.

What the pods (and the Jobs the orchestrators create) run names the image by its
content, never by a tag alone: pushed, by the digest the registry gave it; loaded, by a
tag holding its ID. A rebuild under the same tag therefore never leaves a node running
the old image from its cache (IfNotPresent is then right, and pulls nothing twice).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kindfleet.deploy.options import IMAGE_REPOSITORY, DeployOptions
from kindfleet.errors import UsageError
from kindfleet.exec import Command, cmd
from kindfleet.fleetspec.internal import FleetSpec, Registry

DOCKER = "docker"
ALWAYS = "Always"
IF_NOT_PRESENT = "IfNotPresent"
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class ImagePlan:
    source: str  # the local image: what is built, or what --image names
    build_context: Path | None  # build `source` from this directory first; None: don't
    push_as: str | None  # tag `source` as this reference in the fleet's registry and push
    load: bool  # `kind load docker-image` it into every cluster
    ref: str  # what the pods run
    pull_policy: str

    def as_remote(self) -> ImagePlan:
        """The plan for an image that is not on this machine: the nodes pull it themselves."""
        return ImagePlan(self.source, None, None, False, self.source, IF_NOT_PRESENT)


def default_tag(version: str) -> str:
    return f"{IMAGE_REPOSITORY}:{version}"


def split_reference(ref: str) -> tuple[str | None, str, str | None]:
    """(registry host, repository path, tag) of an image reference; a digest is dropped."""
    ref = _DIGEST.sub("", ref)
    first, _, rest = ref.partition("/")
    domain = None
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, ref = first, rest
    path, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    return domain, path, tag or None


def in_registry(registry: Registry, ref: str) -> str:
    """`ref` as the fleet's registry names it: localhost:<port>/<path>:<tag>."""
    _, path, tag = split_reference(ref)
    return f"{registry.host_endpoint}/{path}:{tag or 'latest'}"


def plan_image(
    fleet: FleetSpec,
    options: DeployOptions,
    *,
    owns_clusters: bool,
    version: str,
    source_tree: Path | None,
) -> ImagePlan:
    """How the image gets into the clusters; UsageError when it cannot (and what to pass)."""
    if not owns_clusters:
        if not options.image:
            raise UsageError(
                "clusters kindfleet does not run (provider existing) need an image they can "
                "pull: kindfleet cannot load one into them",
                hint=(
                    "build and push one, e.g. `docker build -t REGISTRY/kindfleet/platform:TAG "
                    ". && docker push REGISTRY/kindfleet/platform:TAG`, then pass "
                    "--image REGISTRY/kindfleet/platform:TAG"
                ),
            )
        return ImagePlan(options.image, None, None, False, options.image, IF_NOT_PRESENT)
    context: Path | None = None
    if options.image:
        source = options.image
    else:
        context = options.build_context or source_tree
        if context is None:
            raise UsageError(
                "this kindfleet installation has no source tree with a Dockerfile to build "
                "the platform image from",
                hint="pass --image REF (a prebuilt image) or --build-context DIR (a kindfleet "
                "checkout)",
            )
        source = options.tag or default_tag(version)
    if fleet.registry is not None:
        pushed = in_registry(fleet.registry, source)
        return ImagePlan(source, context, pushed, False, pushed, ALWAYS)
    return ImagePlan(source, context, None, True, source, IF_NOT_PRESENT)


# --- commands ------------------------------------------------------------------------


def build_cmd(context: Path, tag: str, build_args: Mapping[str, str] | None = None) -> Command:
    argv = [DOCKER, "build", "--force-rm", "--tag", tag]  # no container left by a failed step
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    argv += ["--file", str(context / "Dockerfile"), str(context)]
    return cmd(*argv, timeout=1800)


def tag_cmd(source: str, target: str) -> Command:
    return cmd(DOCKER, "tag", source, target, timeout=60)


def push_cmd(ref: str) -> Command:
    return cmd(DOCKER, "push", ref, timeout=900)


def inspect_cmd(ref: str) -> Command:
    """The image's content ID and size, if it is on this machine."""
    return cmd(DOCKER, "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref, timeout=60)


def pushed_digest(output: str) -> str | None:
    """The manifest digest `docker push` reports last (`<tag>: digest: sha256:... size: N`)."""
    found = _PUSHED.findall(output)
    return found[-1] if found else None


def by_digest(ref: str, digest: str) -> str:
    """`ref` pinned to its content: `localhost:5001/kindfleet/platform:0.1.0@sha256:...`.
    Nodes pull exactly that image, whatever the tag names by the time they pull."""
    return f"{_DIGEST.sub('', ref)}@{digest}"


def content_tag(ref: str, image_id: str) -> str:
    """A tag that changes with the image's content, for images `kind load`ed (no registry
    gives them a digest): `kindfleet/platform:0.1.0-5f1c2d3e4b6a`."""
    domain, path, tag = split_reference(ref)
    short = image_id.removeprefix("sha256:")[:12]
    return f"{domain + '/' if domain else ''}{path}:{tag or 'latest'}-{short}"


def parse_inspect(text: str) -> tuple[str, int] | None:
    parts = text.split()
    if len(parts) != 2 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])
