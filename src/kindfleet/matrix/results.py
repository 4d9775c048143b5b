"""What a matrix run found: per version its steps (up, the command, logs, down), one
result, its duration; as data (`-o json`) and as JUnit XML (one file per version)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from typing import Any, Literal

Outcome = Literal["passed", "failed", "error"]


@dataclass(frozen=True)
class Step:
    name: str  # up | command | logs | down
    ok: bool
    seconds: float
    message: str = ""  # why it failed, or what it left (the logs' folder)


@dataclass(frozen=True)
class VersionResult:
    version: str
    fleet: str
    slot: int
    steps: tuple[Step, ...]
    directory: str  # the version's fleet file, kubeconfig, command log, logs
    junit: str | None = None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def outcome(self) -> Outcome:
        """passed; failed: the command failed; error: the fleet could not be had (up) or
        removed (down), so the command's answer says nothing."""
        by_name = {s.name: s for s in self.steps}
        if not all(by_name[n].ok for n in ("up", "down") if n in by_name):
            return "error"
        command = by_name.get("command")
        return "passed" if command is not None and command.ok else "failed"

    @property
    def logs(self) -> str | None:
        step = next((s for s in self.steps if s.name == "logs"), None)
        return step.message if step is not None and step.ok else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "result": self.outcome,
            "seconds": round(self.seconds, 3),
            "fleet": self.fleet,
            "slot": self.slot,
            "directory": self.directory,
            "logs": self.logs,
            "junit": self.junit,
            "steps": [{**asdict(s), "seconds": round(s.seconds, 3)} for s in self.steps],
        }

    def junit_xml(self, command: str) -> str:
        """A testsuite for the version, a testcase per step (the command's is named by
        the command line)."""
        failures = sum(not s.ok for s in self.steps if s.name == "command")
        errors = sum(not s.ok for s in self.steps if s.name != "command")
        root = ET.Element("testsuites", name=f"kindfleet matrix {self.version}")
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"kubernetes-{self.version}",
            tests=str(len(self.steps)),
            failures=str(failures),
            errors=str(errors),
            time=f"{self.seconds:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for key, value in (("version", self.version), ("fleet", self.fleet)):
            ET.SubElement(props, "property", name=key, value=value)
        for step in self.steps:
            name = command if step.name == "command" else step.name
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"kindfleet.matrix.{self.version}",
                name=name,
                time=f"{step.seconds:.3f}",
            )
            if not step.ok:
                tag = "failure" if step.name == "command" else "error"
                first = step.message.splitlines()[0] if step.message else "failed"
                ET.SubElement(case, tag, message=first).text = step.message
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


@dataclass(frozen=True)
class MatrixResult:
    fleet: str
    command: str
    parallel: int
    runs: tuple[VersionResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.outcome == "passed" for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "command": self.command,
            "parallel": self.parallel,
            "ok": self.ok,
            "versions": [r.to_dict() for r in self.runs],
        }
