"""The Docker engine not answering, said once and clearly, whichever command met it.

`kind` and `docker` print the engine's state in their own words, deep in an error
("failed to list clusters: command "docker ps ..." failed ... Cannot connect to the Docker
daemon"). Every command of the kind provider goes through `EngineAwareRunner`, which
turns those into one `EngineDown` (exit code 3, a missing prerequisite) carrying the same
fix the preflight gives, and a missing `docker` or `kind` into `CommandNotFound` with how
to install it. The preflight still reads the original output: `EngineDown` is a
`CommandError`.
"""

from __future__ import annotations

from kindfleet.errors import EXIT_PREREQUISITE
from kindfleet.exec import Command, CommandError, CommandNotFound, Result, Runner
from kindfleet.providers.kind import kindcli
from kindfleet.providers.kind.preflight import INSTALL_DOCKER, docker_finding
from kindfleet.providers.preflight import last_line

UNREACHABLE = (
    "Cannot connect to the Docker daemon",
    "Is the docker daemon running",
    "error during connect",
    "permission denied while trying to connect to the Docker daemon",
)
NO_DOCKER = 'exec: "docker": executable file not found'  # kind's words for it
INSTALL = {"docker": INSTALL_DOCKER, kindcli.KIND: kindcli.INSTALL_KIND}


class EngineDown(CommandError):
    """The Docker engine did not answer a docker or kind command (or there is no docker)."""

    exit_code = EXIT_PREREQUISITE

    def __init__(self, result: Result) -> None:
        finding = docker_finding(None, _the_line(result.output))
        super().__init__(result, hint=finding.fix)
        self.message = f"{finding.message}\n  (from `{result.command.shell()}`)"


def unreachable(text: str) -> bool:
    return NO_DOCKER in text or any(marker in text for marker in UNREACHABLE)


def _the_line(output: str) -> str:
    """The line that says why: the engine's words, not kind's wrapping of them."""
    if NO_DOCKER in output:
        return "docker not found on PATH"
    for line in output.splitlines():
        if any(marker in line for marker in UNREACHABLE):
            return line.strip().removeprefix("Command Output: ")
    return last_line(output)


class EngineAwareRunner:
    """A runner that says "the Docker engine does not answer" as such (see module)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def run(self, command: Command, *, check: bool = True) -> Result:
        try:
            result = self.runner.run(command, check=check)
        except CommandNotFound as exc:
            if exc.hint is None and command.program in INSTALL:
                raise CommandNotFound(command, hint=INSTALL[command.program]) from None
            raise
        except EngineDown:
            raise
        except CommandError as exc:
            if unreachable(exc.output):
                raise EngineDown(exc.result) from None
            raise
        if not result.ok and unreachable(result.output):
            raise EngineDown(result)
        return result
