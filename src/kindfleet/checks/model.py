"""What a check run found: one result per check, with the figures it measured, as a
person reads it, as JSON (`-o json`) and as JUnit XML (`--junit`, one testcase each)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


class CheckFailed(AssertionError):
    """A check's expectation does not hold; the message says what was seen."""


class CheckSkipped(Exception):
    """The check cannot be done on this fleet (the reason says why): not a failure."""


@dataclass
class CheckResult:
    suite: str
    name: str
    outcome: str
    seconds: float
    message: str = ""
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    @property
    def ok(self) -> bool:
        return self.outcome != FAILED


@dataclass
class CheckReport:
    fleet: str
    provider: str
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {PASSED: 0, FAILED: 0, SKIPPED: 0}
        for r in self.results:
            out[r.outcome] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "provider": self.provider,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "results": [{**asdict(r), "id": r.id} for r in self.results],
        }

    def junit(self) -> str:
        """JUnit XML: a testsuite per suite, a testcase per check (figures as properties)."""
        root = ET.Element("testsuites", name=f"kindfleet check {self.fleet}")
        suites: dict[str, list[CheckResult]] = {}
        for result in self.results:
            suites.setdefault(result.suite, []).append(result)
        for suite, results in suites.items():
            element = ET.SubElement(
                root,
                "testsuite",
                name=suite,
                tests=str(len(results)),
                failures=str(sum(r.outcome == FAILED for r in results)),
                skipped=str(sum(r.outcome == SKIPPED for r in results)),
                time=f"{sum(r.seconds for r in results):.3f}",
            )
            for r in results:
                case = ET.SubElement(
                    element,
                    "testcase",
                    classname=f"kindfleet.{suite}",
                    name=r.name,
                    time=f"{r.seconds:.3f}",
                )
                if r.figures:
                    props = ET.SubElement(case, "properties")
                    for key, value in r.figures.items():
                        ET.SubElement(props, "property", name=key, value=f"{value:g}")
                if r.outcome == FAILED:
                    ET.SubElement(
                        case, "failure", message=r.message.splitlines()[0]
                    ).text = r.message
                elif r.outcome == SKIPPED:
                    ET.SubElement(case, "skipped", message=r.message)
                elif r.message:
                    ET.SubElement(case, "system-out").text = r.message
        ET.indent(root)
        return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
