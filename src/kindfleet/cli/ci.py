"""`kindfleet ci github|gitlab`: write a CI workflow for a fleet file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

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
        str,
        typer.Option(
            "--install", help="What `pip install` is given: a version, or `-e .` for a checkout."
        ),
    ] = "kindfleet",
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
    spec = options.spec(file)
    chosen = parse_versions(versions) if versions else _own(spec.clusters)
    settings = ci.CiOptions(
        fleet_file=file.as_posix(),
        versions=tuple(chosen),
        name=name,
        install=install,
        python=python,
        deploy=deploy,
        run=tuple(run or ()),
        schedule=schedule,
        kind_sha256=_sha256(kind_sha256),
        timeout_minutes=timeout_minutes,
        runner_tag=runner_tag,
    )
    target = out or str(GITLAB_OUT if gitlab else GITHUB_OUT)
    data = ci.gitlab(settings) if gitlab else ci.github(settings)
    text = ci.to_yaml(data, settings, gitlab_ci=gitlab, out=target)
    if target == "-":
        sys.stdout.write(text)
        return
    path = Path(target)
    if not force:
        _refuse_theirs(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    output.success(f"wrote {path} ({len(chosen)} Kubernetes versions: {', '.join(chosen)})")


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
