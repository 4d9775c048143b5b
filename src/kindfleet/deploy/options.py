"""What a deploy is asked to do and what it hands back, as plain values.

The CLI turns flags into `DeployOptions`; Python callers build one directly. The result
says where the platform ended up (the image it runs, how spokes reach the hub, how this
machine reaches it) so that scripts and the next commands need not work it out again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_REPOSITORY = "kindfleet/platform"


@dataclass(frozen=True)
class DeployOptions:
    image: str | None = None  # a prebuilt image; None: build one from `build_context`
    build_context: Path | None = None  # None: this installation's source tree
    build_args: Mapping[str, str] = field(default_factory=dict)  # docker build --build-arg
    tag: str | None = None  # the built image's name; None: kindfleet/platform:<version>
    hub_url: str | None = None  # how spokes reach the hub; required for provider existing
    dry_run: bool = False  # look, render and validate; build, push and apply nothing
    wait: bool = True  # wait for the pods, then for every spoke Ready in the hub
    wait_seconds: float = 300.0
    parallel: int = 4


@dataclass(frozen=True)
class DeployResult:
    fleet: str
    provider: str
    image: str  # what the pods run
    image_pull_policy: str
    hub_url: str  # what the spokes dial
    access_url: str | None  # how this machine reaches the hub (None on a dry run)
    manifests: Mapping[str, list[dict[str, Any]]]  # by cluster, hub first; holds secrets
    dry_run: bool
    seconds: float
    spokes_ready: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def objects(self) -> int:
        return sum(len(objects) for objects in self.manifests.values())
