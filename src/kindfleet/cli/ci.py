"""`kindfleet ci github|gitlab`: write a CI workflow for a fleet file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kindfleet.cli import options, output
from kindfleet.cli.options import FleetFileOption
from kindfleet.errors import UsageError, writing

app = typer.Typer(
    help="Write a CI workflow (GitHub Actions, GitLab CI) for a fleet.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

GITHUB_OUT = Path(".github/workflows/kindfleet.yml")
ForceOption = Annotated[
    bool,
    typer.Option("--force", help="Replace the file at --out even when kindfleet did not write it."),
]
GITLAB_OUT = Path(".gitlab-ci.yml")


@app.command("github")
def github(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    versions: Annotated[
        list[str] | None,
        typer.Option(
            "--versions",
            metavar="VERSIONS",
            help="Kubernetes versions, one job each (default: the fleet's own).",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="PATH|-",
            help=f"Where to write it (default {GITHUB_OUT}, or {GITLAB_OUT} with --gitlab, "
            "under the current directory); - prints it.",
        ),
    ] = None,
    gitlab: Annotated[
        bool, typer.Option("--gitlab", help="Write the GitLab CI equivalent instead.")
    ] = False,
    name: Annotated[str, typer.Option("--name", help="The workflow's (and job's) name.")] = (
        "kindfleet"
    ),
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            help="What `pip install` is given (default: this release, kindfleet==VERSION, "
            "whose pins the file carries), or `-e .` for a checkout.",
        ),
    ] = None,
    python: Annotated[str, typer.Option("--python", help="The Python version.")] = "3.11",
    deploy: Annotated[
        bool, typer.Option("--deploy/--no-deploy", help="Deploy the platform before check.")
    ] = True,
    run: Annotated[
        list[str] | None,
        typer.Option(
            "--run", metavar="COMMAND", help="Run after check, with the fleet up (repeatable)."
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option("--schedule", metavar="CRON", help="Also run on this schedule (nightly)."),
    ] = None,
    kind_sha256: Annotated[
        str | None,
        typer.Option(
            "--kind-sha256",
            metavar="HEX",
            help="The kind binary's sha256 to check (default: the one its release publishes).",
        ),
    ] = None,
    timeout_minutes: Annotated[
        int, typer.Option("--timeout-minutes", min=1, help="The job's time limit.")
    ] = 60,
    runner_tag: Annotated[
        str,
        typer.Option("--runner-tag", help="GitLab: the tag of a shell runner with Docker."),
    ] = "kindfleet",
    force: ForceOption = False,
) -> None:
    """Write a GitHub Actions workflow (or with --gitlab a GitLab CI pipeline) that brings
    the fleet up at each version, deploys, checks with JUnit, keeps logs on failure and
    takes the fleet down always.

    kind is installed at the pinned release and checked against its sha256, kubectl at
    the job's Kubernetes version likewise; node images are cached by digest.
    """
    from kindfleet import ci
    from kindfleet.matrix import parse_versions

    if out is not None:
        options.path_of("--out")(out)  # '' is refused (not the default), before any work
    spec, data = _read(file)
    chosen = parse_versions(versions) if versions else _own(spec.clusters)
    settings = ci.CiOptions(
        fleet_file=_in_checkout(file),
        versions=tuple(chosen),
        name=name,
        install=install or ci.CiOptions.install,
        python=python,
        deploy=deploy,
        run=tuple(run or ()),
        schedule=schedule,
        kind_sha256=_sha256(kind_sha256),
        timeout_minutes=timeout_minutes,
        runner_tag=runner_tag,
    )
    for flag, problem, hint in ci.problems(settings, gitlab_ci=gitlab)[:1]:
        raise UsageError(f"{flag}: {problem}", hint=hint)
    _plans(data, file, chosen)
    if not versions and len(chosen) > 1:
        output.warn(
            f"the fleet's clusters run at {len(chosen)} versions ({', '.join(chosen)}): each job "
            "runs every cluster at one of them, so the file's own mix is not one of the jobs "
            "(--versions names the versions to run at, one job each)"
        )
    if gitlab and schedule:  # .gitlab-ci.yml cannot hold one (its rules matched every run)
        output.warn(
            f"GitLab runs a pipeline on a schedule set in the project, not in {GITLAB_OUT}: "
            f"add one (Build > Pipeline schedules) with the cron '{schedule}'"
        )
    target = out or str(GITLAB_OUT if gitlab else GITHUB_OUT)
    workflow = ci.gitlab(settings) if gitlab else ci.github(settings)
    text = ci.to_yaml(workflow, settings, gitlab_ci=gitlab, out=target)
    if target == "-":
        sys.stdout.write(text)
        return
    path = Path(target)
    if not force:
        _refuse_theirs(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, text)
    output.success(
        f"wrote {path} ({len(chosen)} Kubernetes version{'s' if len(chosen) != 1 else ''}: "
        f"{', '.join(chosen)})"
    )


def _in_checkout(file: Path) -> str:
    """The fleet file's path as the job sees it, from the repository's root (where
    kindfleet ci runs): `-f $PWD/fleet.yaml` is `fleet.yaml`; a path outside is left as
    given, for `ci.problems` to refuse."""
    import os

    try:
        return Path(os.path.abspath(file)).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return file.as_posix()


def _read(file: Path) -> tuple[Any, dict[str, Any]]:
    """The fleet file, read once (a pipe cannot be read twice): its spec and its data."""
    from kindfleet.fleetspec import load, yamlread

    spec, raw = load.read_path(file, provider=options.provider_override.get())
    return spec, yamlread.read(raw, source=str(file)).data


def _plans(data: dict[str, Any], file: Path, versions: list[str]) -> None:
    """Each job plans the fleet at its version (`kindfleet matrix --write-fleets`): a plan
    that would fail there (a name too long with the version in it, provider existing)
    fails here, before any workflow is written."""
    from kindfleet.matrix import plan

    for version in versions:
        plan(data, [version], source=str(file), base_dir=file.resolve().parent)


def replace_file(path: Path, text: str) -> None:
    """`text` at `path` whole or not at all (`replace_text`): a failed write left a workflow
    cut short in place of the one before. A file of another kind (a pipe, /dev/stdout) is
    written as it is; a symbolic link's target is replaced, not the link."""
    import os

    from kindfleet.statedir import replace_text

    if path.exists() and not path.is_file():  # a pipe, a device, /dev/stdout into a pipe
        path.write_text(text, encoding="utf-8")
        return
    replace_text(Path(os.path.realpath(path)), text)


def _refuse_theirs(path: Path) -> None:
    """A file there that kindfleet did not write (a project's own `.gitlab-ci.yml`) is
    never replaced unasked; one it wrote is, as its first line says."""
    from kindfleet import ci

    if path.is_dir():
        raise UsageError(f"{path} is a directory", hint="give --out a file name")
    if not path.is_file():  # nothing there, or a device or a pipe: written as asked
        return
    with path.open(encoding="utf-8", errors="replace") as f:
        first = f.readline(4096)  # the mark is in the first line
    if not ci.written_by_kindfleet(first):
        raise UsageError(
            f"{path} exists and kindfleet did not write it",
            hint="--out - prints the workflow (to merge by hand, or `include:` from GitLab), "
            "--out PATH writes it elsewhere, --force replaces that file",
        )


@app.command("gitlab")
def gitlab_ci(
    *,
    file: FleetFileOption = Path("fleet.yaml"),
    versions: Annotated[
        list[str] | None,
        typer.Option("--versions", metavar="VERSIONS", help="Kubernetes versions."),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", metavar="PATH|-", help=f"Default {GITLAB_OUT}.")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Write a GitLab CI pipeline: `kindfleet ci github --gitlab` (its flags are there)."""
    github(file=file, versions=versions, out=out, gitlab=True, force=force)


def _own(clusters: tuple[object, ...]) -> list[str]:
    from kindfleet.fleetspec.internal import Cluster

    found = [c.kubernetes_version for c in clusters if isinstance(c, Cluster)]
    return list(dict.fromkeys(found))


def _sha256(value: str | None) -> str | None:
    from kindfleet.errors import UsageError

    if value is None:
        return None
    text = value.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise UsageError(
            f"--kind-sha256 {value!r} is not a sha256",
            hint="64 hex digits, as kind's release publishes in kind-linux-amd64.sha256sum",
        )
    return text
