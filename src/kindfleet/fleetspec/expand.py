"""The clusters a fleet file asks for, before any fleet-wide check: the hub, then each
spoke of whichever form `spokes` takes (a count, a list, a template with overrides).

Each planned cluster remembers where it came from, so that a problem is reported where
the user can fix it: a name made by `namePattern` at `spokes.namePattern`, a value from
the template at `spokes.template...` (once, not once per spoke).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kindfleet.errors import Problem
from kindfleet.fleetspec import internal as it
from kindfleet.fleetspec import model
from kindfleet.fleetspec.errors import format_path, problems_from

Texts = Mapping[tuple[str | int, ...], str]


@dataclass(frozen=True)
class Planned:
    """One cluster of the fleet before the fleet-wide checks: its spec and where it came from."""

    spec: model.ClusterSpec
    name: str
    role: it.ClusterRole
    index: int
    path: str  # where its fields are written: hub, spokes[2], spokes.template, ...
    name_path: str  # where its name comes from

    @property
    def from_template(self) -> bool:
        """Made from a template shared with other spokes (its fields' paths are shared)."""
        return self.path in ("spokes", "spokes.template")


def plan(doc: model.FleetFile, problems: list[Problem], texts: Texts | None) -> list[Planned]:
    hub_name_path = "hub.name" if doc.hub.name else "hub"
    planned = [Planned(doc.hub, doc.hub.name or f"{doc.name}-hub", "hub", 0, "hub", hub_name_path)]
    spokes = doc.spokes
    if isinstance(spokes, int):
        planned += [
            Planned(model.ClusterSpec(), f"{doc.name}-spoke{i}", "spoke", i, "spokes", "spokes")
            for i in range(1, spokes + 1)
        ]
    elif isinstance(spokes, list):
        for i, s in enumerate(spokes, start=1):
            path = f"spokes[{i - 1}]"
            name_path = f"{path}.name" if s.name else path
            planned.append(
                Planned(s, s.name or f"{doc.name}-spoke{i}", "spoke", i, path, name_path)
            )
    else:
        planned += _expand_set(doc.name, spokes, problems, texts)
    return planned


def _expand_set(
    fleet: str, spokes: model.SpokeSet, problems: list[Problem], texts: Texts | None
) -> list[Planned]:
    if spokes.template.name is not None:
        problems.append(
            Problem(
                "spokes.template.name",
                "a template cannot name its spokes",
                "use spokes.namePattern, e.g. '{fleet}-gpu{index}'",
            )
        )
    names = [
        spokes.name_pattern.replace("{fleet}", fleet).replace("{index}", str(i))
        for i in range(1, spokes.count + 1)
    ]
    overrides = _match_overrides(spokes, names, problems)
    base = spokes.template.model_dump(by_alias=True, exclude_unset=True, exclude={"name"})
    out: list[Planned] = []
    for i, pattern_name in enumerate(names, start=1):
        if i not in overrides:
            out.append(
                Planned(
                    spokes.template,
                    pattern_name,
                    "spoke",
                    i,
                    "spokes.template",
                    "spokes.namePattern",
                )
            )
            continue
        key, patch = overrides[i]
        prefix = ("spokes", "overrides", key)
        try:
            spec = model.ClusterSpec.model_validate(_merge(base, patch))
        except ValidationError as exc:
            problems += problems_from(exc, model.ClusterSpec, prefix, texts=texts)
            continue
        path = format_path(prefix)
        name_path = f"{path}.name" if spec.name else "spokes.namePattern"
        out.append(Planned(spec, spec.name or pattern_name, "spoke", i, path, name_path))
    return out


def _match_overrides(
    spokes: model.SpokeSet, names: Sequence[str], problems: list[Problem]
) -> dict[int, tuple[str, dict[str, Any]]]:
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    by_name = {name: i for i, name in enumerate(names, start=1)}
    for key, patch in spokes.overrides.items():
        index = int(key) if key.isdigit() else by_name.get(key, 0)
        where = format_path(("spokes", "overrides", key))
        if not 1 <= index <= spokes.count:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            problems.append(
                Problem(
                    where,
                    f"no spoke has index or name {key!r}",
                    f"use an index 1..{spokes.count} or one of: {shown}",
                )
            )
        elif index in found:
            problems.append(
                Problem(where, f"spoke {index} is overridden twice", "merge the two into one")
            )
        else:
            found[index] = (key, patch)
    return found


def _merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; lists and scalars in the patch replace the template's."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
