"""`Fleet`: the one object scripts, tests and the CLI drive a fleet through.

It holds the resolved spec and offers every operation on it; the CLI is a thin layer of
flags over these methods, so whatever the CLI can do a Python caller can do too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kindfleet import spec as fleet_spec
from kindfleet.render import kindconfig
from kindfleet.spec.internal import FleetSpec


class Fleet:
    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec

    @classmethod
    def from_path(cls, path: str | Path) -> Fleet:
        return cls(fleet_spec.from_path(path))

    @classmethod
    def from_text(cls, text: str, *, source: str = "<fleet>") -> Fleet:
        return cls(fleet_spec.from_text(text, source=source))

    @property
    def name(self) -> str:
        return self.spec.name

    def kind_configs(self, cluster: str | None = None) -> dict[str, dict[str, Any]]:
        """KIND configs by cluster name (hub first), or only `cluster`'s."""
        return kindconfig.render_fleet(self.spec, cluster)

    def write_kind_configs(self, directory: str | Path, cluster: str | None = None) -> list[Path]:
        """One `<cluster>.yaml` per cluster in `directory`; returns the files written."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, config in self.kind_configs(cluster).items():
            path = out / f"{name}.yaml"
            path.write_text(kindconfig.to_yaml(config), encoding="utf-8")
            written.append(path)
        return written


def load_fleet(path: str | Path) -> Fleet:
    """Read, validate and resolve a fleet file; raises `SpecError` listing every problem."""
    return Fleet.from_path(path)
