"""One error family for the whole package, so the CLI can turn any failure into one clear
line and an exit code, and library callers can catch by meaning rather than by message.

Exit codes are part of the interface (scripts and CI branch on them):
0 ok, 1 an operation failed, 2 bad input (fleet file, argument, payload),
3 a prerequisite is missing (Docker, kind, kubectl, a free port), 4 partly done
(some clusters failed while others succeeded), 130 interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_PREREQUISITE = 3
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130


class KindfleetError(Exception):
    """Base of every error kindfleet raises on purpose; `hint` says what to do next."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(KindfleetError):
    """A bad command-line argument or API argument."""

    exit_code = EXIT_BAD_INPUT


class PrerequisiteError(KindfleetError):
    """Something outside kindfleet is missing: Docker, kind, kubectl, memory, a port."""

    exit_code = EXIT_PREREQUISITE


class PartialFailure(KindfleetError):
    """Some units of a parallel operation failed; `failed` names them."""

    exit_code = EXIT_PARTIAL

    def __init__(self, message: str, *, failed: dict[str, str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.failed = failed


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a fleet file: where it is, what is wrong, how to fix it."""

    path: str
    message: str
    fix: str | None = None

    def render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} ({self.fix})" if self.fix else text


class ProblemsError(KindfleetError):
    """An input file is invalid; every problem found is reported at once, each with its path."""

    exit_code = EXIT_BAD_INPUT
    what = "input"
    fix = "fix the fields named above"

    def __init__(self, problems: list[Problem], *, source: str | None = None) -> None:
        self.problems = list(dict.fromkeys(problems))  # the same problem once, in order
        self.source = source
        head = f"{source} is not a valid {self.what}" if source else f"invalid {self.what}"
        noun = "problem" if len(self.problems) == 1 else "problems"
        lines = [f"{head} ({len(self.problems)} {noun}):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines), hint=self.fix)


class SpecError(ProblemsError):
    """A fleet file is invalid."""

    what = "fleet file"
    fix = "fix the fields named above, then run `kindfleet validate`"


class WorkloadSpecError(ProblemsError):
    """A workload (from a file, flags or a Python mapping) is invalid."""

    what = "workload"
    fix = "fix the fields named above; `kindfleet submit --help` shows a workload's fields"
