"""The `kindfleet` command: flags in, Python API calls, output printed. Nothing else.

`main()` is the only place that turns an exception into an exit code: a `KindfleetError`
becomes one red line with a hint and its own code; anything unexpected becomes one line
too, with the traceback only under `--debug`.
"""

from __future__ import annotations

import enum
import os
import sys
import traceback
from typing import Annotated

import typer

from kindfleet.cli import clusters, demo, deploy, fleetfile, output, spokes, workloads
from kindfleet.cli.about import version
from kindfleet.errors import EXIT_FAILED, EXIT_INTERRUPTED, KindfleetError, SpecError

app = typer.Typer(
    name="kindfleet",
    help=(
        "Declarative multi-cluster KIND fleets: one fleet file (a hub and N spokes) becomes "
        "KIND clusters, a hub-spoke AI platform runs on them, and suites test it.\n\n"
        "Start with `kindfleet init`, then `kindfleet validate` and `kindfleet render`."
    ),
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
    if provider is not None:
        os.environ["KINDFLEET_PROVIDER"] = provider.value  # read by every command's provider


app.command()(fleetfile.init)
app.command()(fleetfile.validate)
app.command()(fleetfile.render)
app.command()(clusters.up)
app.command()(clusters.status)
app.command()(clusters.down)
app.command()(clusters.kubeconfig)
app.command()(clusters.use)
app.command()(deploy.deploy)
app.command()(deploy.manifests)
app.command()(workloads.submit)
app.command()(workloads.workloads)
app.command()(workloads.explain)
app.command()(workloads.cancel)
app.command()(workloads.logs)
app.command()(workloads.telemetry)
app.command()(demo.demo)
app.add_typer(spokes.app)  # hub (issue 9): kindfleet spokes ...
app.command()(version)


def main() -> None:
    debug = bool(os.environ.get("KINDFLEET_DEBUG")) or "--debug" in sys.argv
    try:
        app()
    except SpecError as exc:
        output.err.print(f"[red]error:[/] {exc.message}", highlight=False, markup=True)
        sys.exit(exc.exit_code)
    except KindfleetError as exc:
        output.error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        output.error(
            f"unexpected {type(exc).__name__}: {exc}",
            "this is a bug in kindfleet; re-run with --debug and report the traceback",
        )
        sys.exit(EXIT_FAILED)
