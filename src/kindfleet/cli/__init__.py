"""The `kindfleet` command: flags in, Python API calls, output printed. Nothing else.

`main()` is the only place that turns an exception into an exit code: a `KindfleetError`
becomes one red line with a hint and its own code; anything unexpected becomes one line
too, with the traceback only under `--debug`.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import sys
import traceback
from typing import Annotated, ClassVar

import typer

from kindfleet import stops
from kindfleet.cli import options, output
from kindfleet.cli import streams as forgiving
from kindfleet.cli.lazy import LazyCommand, LazyGroup
from kindfleet.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    KindfleetError,
    SpecError,
    machine_error,
)

FILE, CLUSTERS, PLATFORM = "Fleet file", "Clusters", "Platform"
WORK, DRILLS, MORE = "Workloads", "Drills and tests", "More"


class Commands(LazyGroup):
    """Every command, imported only when it runs (or when its own --help is asked)."""

    lazy: ClassVar[dict[str, LazyCommand]] = {
        "init": LazyCommand(
            "kindfleet.cli.fleetfile:init", "Write a fleet file to start from.", FILE
        ),
        "validate": LazyCommand(
            "kindfleet.cli.fleetfile:validate",
            "Check a fleet file and show what it resolves to.",
            FILE,
        ),
        "render": LazyCommand(
            "kindfleet.cli.fleetfile:render",
            "Print the KIND config of every cluster (what `kind create cluster --config` takes).",
            FILE,
        ),
        "up": LazyCommand("kindfleet.cli.clusters:up", "Bring the fleet up", CLUSTERS),
        "status": LazyCommand("kindfleet.cli.clusters:status", "Show the fleet as it is", CLUSTERS),
        "down": LazyCommand(
            "kindfleet.cli.clusters:down",
            "Remove every cluster of the fleet, its registry and its kubeconfig entries.",
            CLUSTERS,
        ),
        "kubeconfig": LazyCommand(
            "kindfleet.cli.clusters:kubeconfig",
            "Print a cluster's kubeconfig (contexts named `kind-<cluster>`).",
            CLUSTERS,
        ),
        "use": LazyCommand(
            "kindfleet.cli.clusters:use",
            "Switch the current kubeconfig context to this cluster's (`kind-<cluster>`).",
            CLUSTERS,
        ),
        "deploy": LazyCommand(
            "kindfleet.cli.deploy:deploy", "Deploy the hub-spoke platform", PLATFORM
        ),
        "rewire": LazyCommand(
            "kindfleet.cli.rewire:rewire", "Point every spoke at the hub where it is now", PLATFORM
        ),
        "manifests": LazyCommand(
            "kindfleet.cli.deploy:manifests",
            "Print what `kindfleet deploy` would apply, with no cluster needed.",
            PLATFORM,
        ),
        "submit": LazyCommand(
            "kindfleet.cli.workloads:submit", "Submit work to the fleet's hub", WORK
        ),
        "workloads": LazyCommand(
            "kindfleet.cli.workloads:workloads",
            "List workloads (newest first) with their state and where they run.",
            WORK,
        ),
        "explain": LazyCommand(
            "kindfleet.cli.workloads:explain", "Why is my workload still pending?", WORK
        ),
        "cancel": LazyCommand("kindfleet.cli.workloads:cancel", "Cancel a workload", WORK),
        "logs": LazyCommand(
            "kindfleet.cli.logs:app",
            "Print a run's log, or export every cluster's and the platform's logs.",
            WORK,
        ),
        "telemetry": LazyCommand(
            "kindfleet.cli.workloads:telemetry", "Telemetry the spokes sent", WORK
        ),
        "fault": LazyCommand(
            "kindfleet.cli.faults:app",
            "Inject a fault into one cluster (or the hub), list faults, clear them.",
            DRILLS,
        ),
        "dashboard": LazyCommand(
            "kindfleet.cli.dashboard:dashboard",
            "Open the hub's dashboard (or print its URL when there is no browser).",
            PLATFORM,
        ),
        "check": LazyCommand(
            "kindfleet.cli.checks:check",
            "Run check suites against the fleet's platform (the article's integration tests).",
            DRILLS,
        ),
        "matrix": LazyCommand(
            "kindfleet.cli.matrix:matrix",
            "Bring the fleet up at each Kubernetes version, run a command on it, keep its logs "
            "when it fails, take it down (always), and show one line per version.",
            DRILLS,
        ),
        "ci": LazyCommand(
            "kindfleet.cli.ci:app",
            "Write a CI workflow (GitHub Actions, GitLab CI) for a fleet.",
            MORE,
        ),
        "load": LazyCommand(
            "kindfleet.cli.load:load",
            "Submit N workloads, watch them to the end, and report throughput, latencies, the "
            "spread over spokes, memory, and lost and duplicated work (both must be 0).",
            DRILLS,
        ),
        "demo": LazyCommand(
            "kindfleet.cli.demo:demo", "Run the platform on an embedded local fleet", MORE
        ),
        "spokes": LazyCommand(
            "kindfleet.cli.spokes:app",
            "The fleet's spokes as the hub sees them, and what an operator does with them.",
            PLATFORM,
        ),
        "version": LazyCommand(
            "kindfleet.cli.about:version",
            "Show kindfleet's version, the kind release it is pinned to and its node images.",
            MORE,
        ),
    }


app = typer.Typer(
    cls=Commands,
    name="kindfleet",
    help=(
        "Declarative multi-cluster KIND fleets: one fleet file (a hub and N spokes) becomes "
        "KIND clusters, a hub-spoke AI platform runs on them, and suites test it.\n\n"
        "Start with `kindfleet init`, then `kindfleet validate` and `kindfleet render`."
    ),
    epilog="Run `kindfleet COMMAND --help` for a command's flags and examples.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="markdown",
)


class ProviderChoice(enum.StrEnum):
    kind = "kind"
    local = "local"
    existing = "existing"


@app.callback()
def _root(
    *,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="KINDFLEET_DEBUG", help="Show tracebacks on errors.")
    ] = False,
    provider: Annotated[
        ProviderChoice | None,
        typer.Option(
            "--provider",
            envvar="KINDFLEET_PROVIDER",
            help="Run the fleet file with another provider, e.g. the article's fleet as local "
            "processes: `kindfleet --provider local up -f examples/article.yaml`.",
        ),
    ] = None,
) -> None:
    if debug:
        os.environ["KINDFLEET_DEBUG"] = "1"
    options.provider_override.set(provider.value if provider else None)


def main() -> None:
    before = stops.stop_signals()
    streams = sys.stdout, sys.stderr
    try:
        forgiving.install()
        _main()
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        with contextlib.suppress(Exception):  # what is left goes (or not) now, quietly
            sys.stdout.flush()
        sys.stdout, sys.stderr = streams


def debugging(flag: str | None, argv: list[str]) -> bool:
    """--debug, or KINDFLEET_DEBUG set to anything but 0, false, no or off (any text at
    all turned tracebacks on, KINDFLEET_DEBUG=0 too)."""
    on = (flag or "").strip().lower() not in ("", "0", "false", "no", "off")
    return on or "--debug" in argv


def _main() -> None:
    debug = debugging(os.environ.get("KINDFLEET_DEBUG"), sys.argv)
    try:
        app()
    except SpecError as exc:
        output.error(exc.message)
        sys.exit(exc.exit_code)
    except KindfleetError as exc:
        output.error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if stops.stopped:  # the interrupt, as a library reported it
            if debug:
                traceback.print_exc()
            output.error("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        if debug:
            traceback.print_exc()
        known = machine_error(exc)
        if known is not None:
            output.error(known.message, known.hint)
            sys.exit(known.exit_code)
        output.error(
            f"unexpected {type(exc).__name__}: {exc}",
            "this is a bug in kindfleet; re-run with --debug and report the traceback",
        )
        sys.exit(EXIT_FAILED)
