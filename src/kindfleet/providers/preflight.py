"""What every provider's preflight reports: findings, each with its fix, gathered at once.

Each provider checks what it needs before `up` creates anything (KIND: Docker, kind,
kubectl, memory, inotify, host ports; existing clusters: kubectl; the local runtime:
nothing) and returns a `Report`; `up` prints its warnings and stops on its errors, all
of them together. The decisions that more than one provider shares live here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kindfleet.errors import PrerequisiteError, UsageError
from kindfleet.exec import CommandError, CommandNotFound

# Every check any provider runs, for `--skip-check`; each provider runs its own subset.
CHECKS = ("docker", "cgroup", "kind", "kubectl", "memory", "inotify", "ports", "network")
INSTALL_KUBECTL = "install kubectl: https://kubernetes.io/docs/tasks/tools/#kubectl"

Severity = Literal["error", "warning", "ok"]


@dataclass(frozen=True)
class PreflightOptions:
    """What `up` knows when it asks for a preflight."""

    skip: Collection[str] = ()
    existing: Collection[str] = ()  # clusters of the fleet that exist already
    registry_running: bool = False  # the fleet's registry runs already

    def wanted(self, checks: Collection[str]) -> list[str]:
        """The provider's `checks` less the skipped ones; an unknown name is an error."""
        unknown = set(self.skip) - set(CHECKS)
        if unknown:
            raise UsageError(
                f"unknown preflight check {sorted(unknown)[0]!r}",
                hint=f"checks: {', '.join(CHECKS)}",
            )
        return [c for c in checks if c not in self.skip]


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str
    fix: str = ""

    def render(self) -> str:
        return f"{self.message}\n      fix: {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def raise_for_errors(self) -> None:
        errors = self.errors
        if not errors:
            return
        noun = "check" if len(errors) == 1 else "checks"
        lines = [f"preflight: {len(errors)} {noun} failed"]
        lines += [f"  ✗ {f.check}: {f.render()}" for f in errors]
        raise PrerequisiteError(
            "\n".join(lines),
            hint="fix what is listed and run `kindfleet up` again "
            "(--skip-check NAME skips a check you know to be wrong here)",
        )


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def probe(call: Callable[[], Any]) -> tuple[Any, str | None]:
    """What a probe measured, or why it could not: missing tools and failing commands
    become the text a finding is decided from, never an exception."""
    try:
        return call(), None
    except CommandNotFound as exc:
        return None, exc.message
    except CommandError as exc:
        return None, exc.output or exc.message


def kubectl_finding(version: str | None, error: str | None) -> Finding:
    if version is None:
        if error and "not found on PATH" not in error:
            message = f"`kubectl version --client` failed: {last_line(error)}"
            return Finding("kubectl", "error", message, INSTALL_KUBECTL)
        return Finding("kubectl", "error", "kubectl not found on PATH", INSTALL_KUBECTL)
    return Finding("kubectl", "ok", f"kubectl {version}")
