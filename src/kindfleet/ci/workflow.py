"""CI workflows for a fleet, built as data (GitHub Actions, GitLab CI) with no I/O.

One job per Kubernetes version: kind installed at the pinned release and checked against
its checksum, kubectl of the job's Kubernetes version likewise, inotify limits raised (a
fleet is several clusters on one kernel), the node image cached by its digest, then the
fleet planned for the version (`kindfleet matrix --write-fleets`), `up`, `deploy`,
`check` with JUnit, any extra commands, `logs export` and the artifacts when something
failed, and `down` always.

What goes into the file is checked first (`problems`): the fleet file's path reached a
`run:` line unquoted (`-f 'a b.yaml'` split in two, `-f 'x;id.yaml'` ran `id`), a line
break in a value wrote YAML of its own after the header's comment, and a `--name` or
`--schedule` no CI system takes was written all the same (found from outside).
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from kindfleet import pins
from kindfleet._version import __version__
from kindfleet.kind import images
from kindfleet.matrix.plan import label

PLANNED = ".kindfleet"  # the per-version fleet files, kubeconfig and image cache
LOGS = "kindfleet-logs"
JUNIT = "junit"
KIND_URL = "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-amd64"
KIND_SUMS = (
    "https://github.com/kubernetes-sigs/kind/releases/download/${KIND_VERSION}/"
    "kind-linux-amd64.sha256sum"
)
KUBECTL_URL = "https://dl.k8s.io/release/${KUBERNETES_VERSION}/bin/linux/amd64/kubectl"
INOTIFY = "sudo sysctl -w fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288"
IMAGE_CACHE = f"{PLANNED}/node-images"


@dataclass(frozen=True)
class CiOptions:
    fleet_file: str  # as the repository has it, relative to its root
    versions: tuple[str, ...]  # pinned Kubernetes versions (v1.35.8)
    name: str = "kindfleet"
    # What `pip install` is given: by default the release that wrote the file, whose pins
    # (kind, node image digests) the file carries; an unpinned one drifted from them.
    install: str = f"kindfleet=={__version__}"
    python: str = "3.11"
    deploy: bool = True
    run: tuple[str, ...] = ()  # commands after `check`, with the fleet up
    schedule: str | None = None  # a cron line: also run on this schedule
    kind_sha256: str | None = None  # else the release's published checksum is used
    timeout_minutes: int = 60
    runner_tag: str = "kindfleet"  # GitLab: the tag of a shell runner with Docker
    command: str = "kindfleet"  # how the workflow calls kindfleet


@dataclass(frozen=True)
class Entry:
    """One job of the matrix."""

    kubernetes: str
    label: str
    image: str
    digest: str  # hex only: cache keys and file names

    def to_dict(self) -> dict[str, str]:
        return {
            "kubernetes": self.kubernetes,
            "label": self.label,
            "image": self.image,
            "digest": self.digest,
        }


def entries(versions: Sequence[str]) -> list[Entry]:
    out = []
    for version in versions:
        image = images.IMAGES[version]
        out.append(Entry(version, label(version), image, image.rsplit("sha256:", 1)[1]))
    return out


# --- shell steps, shared by both dialects -----------------------------------------------


def install_kind(sha256: str | None) -> str:
    check = (
        f'echo "{sha256}  kind" | sha256sum --check --strict'
        if sha256
        else f'curl -fsSL "{KIND_SUMS}" | sed "s/kind-linux-amd64/kind/" | '
        "sha256sum --check --strict"
    )
    return "\n".join(
        [
            f'curl -fsSLo kind "{KIND_URL}"',
            check,
            "sudo install -m 0755 kind /usr/local/bin/kind",
            "rm kind",
            "kind version",
        ]
    )


def install_kubectl() -> str:
    return "\n".join(
        [
            f'curl -fsSLo kubectl "{KUBECTL_URL}"',
            f'echo "$(curl -fsSL "{KUBECTL_URL}.sha256")  kubectl" | sha256sum --check --strict',
            "sudo install -m 0755 kubectl /usr/local/bin/kubectl",
            "rm kubectl",
            "kubectl version --client",
        ]
    )


# Docker Hub rate-limits anonymous pulls per address: log in when a token is set.
DOCKERHUB_LOGIN = "\n".join(
    [
        'if [ -z "${DOCKERHUB_TOKEN}" ]; then',
        '  echo "no DOCKERHUB_TOKEN secret: pulling anonymously"',
        "  exit 0",
        "fi",
        'echo "${DOCKERHUB_TOKEN}" |',
        '  docker login --username "${DOCKERHUB_USERNAME}" --password-stdin',
    ]
)
DOCKERHUB_ENV = {
    "DOCKERHUB_USERNAME": "${{ vars.DOCKERHUB_USERNAME || secrets.DOCKERHUB_USERNAME }}",
    "DOCKERHUB_TOKEN": "${{ secrets.DOCKERHUB_TOKEN }}",
}


def pull_host_images() -> str:
    """The registry's image and the platform image's base, each pulled once on the runner
    (nodes never pull from Docker Hub: `up` and `deploy` load what they need)."""
    images = " ".join(pins.HOST_IMAGES)
    return f'for image in {images}; do docker pull --quiet "$image"; done'


def node_image() -> str:
    """A cached image is loaded and used when the engine knows it by its digest again;
    otherwise it is pulled (by digest) and saved for the next run."""
    tar = f'{IMAGE_CACHE}/"${{NODE_DIGEST}}".tar'
    return "\n".join(
        [
            f"mkdir -p {IMAGE_CACHE}",
            f"if [ -f {tar} ]; then docker load -i {tar}; fi",
            'if ! docker image inspect "${NODE_IMAGE}" >/dev/null 2>&1; then',
            '  docker pull "${NODE_IMAGE}"',
            f'  docker save -o {tar} "${{NODE_IMAGE}}"',
            "fi",
        ]
    )


_NOT_IN_ARTIFACTS = frozenset('"<>|*?:\\/$')  # upload-artifact's, and `${{`
_NAMES = 'one line of at most 100 characters, none of " < > | * ? : \\ / $ (e.g. e2e-nightly)'
_CRON = re.compile(r"[0-9A-Za-z*,/-]+")
_UNSEEN = frozenset({"Cc", "Cf", "Zl", "Zp"})  # controls, format characters, line breaks
Problem = tuple[str, str, str]  # the flag, what is wrong with its value, what to do


def problems(options: CiOptions, *, gitlab_ci: bool) -> list[Problem]:
    """What in `options` no CI system would run as meant, by flag."""
    found = _path_problems(options.fleet_file)
    if not options.name.strip() or len(options.name) > 100 or _unseen(options.name):
        found.append(("--name", f"{options.name!r} cannot name a workflow", _NAMES))
    elif "${{" in options.name or set(options.name) & _NOT_IN_ARTIFACTS:
        found.append(("--name", f"{options.name!r} cannot name the job's artifacts", _NAMES))
    one_line = [("--install", options.install), ("--python", options.python)]
    one_line += [("--run", command) for command in options.run]
    one_line += [("--runner-tag", options.runner_tag)] if gitlab_ci else []
    for flag, value in one_line:
        if not value.strip():
            found.append((flag, "is empty", f"give {flag} a value, or leave the flag out"))
        elif _unseen(value):
            found.append(
                (
                    flag,
                    f"{value!r} holds a line break or a control character",
                    "one line each (repeat --run for more commands)",
                )
            )
    if options.schedule is not None:
        found += _schedule_problems(options.schedule)
    return found


def _unseen(value: str) -> bool:
    return any(unicodedata.category(c) in _UNSEEN for c in value)


def _path_problems(path: str) -> list[Problem]:
    root = "run kindfleet ci from the repository's root with the path from there (-f fleet.yaml)"
    if _unseen(path):
        return [("-f", f"{path!r} holds a line break or a control character", "rename the file")]
    if "${{" in path:
        return [
            (
                "-f",
                f"{path} holds `${{{{`, which the workflow would run as an expression",
                "rename the file",
            )
        ]
    if PurePosixPath(path).is_absolute():
        return [("-f", f"{path} is a path on this machine, not in the job's checkout", root)]
    if ".." in PurePosixPath(path).parts:
        return [("-f", f"{path} is outside the directory kindfleet ci runs in", root)]
    return []


def _schedule_problems(cron: str) -> list[Problem]:
    fields = cron.split()
    hint = "five fields, minute hour day month weekday: --schedule '17 3 * * *' (nightly)"
    if _unseen(cron) or len(fields) != 5 or not all(_CRON.fullmatch(f) for f in fields):
        return [("--schedule", f"{cron!r} is not a cron line", hint)]
    minute = fields[0]
    step = minute.removeprefix("*/")
    if minute == "*" or (minute.startswith("*/") and step.isdigit() and int(step) < 5):
        return [
            (
                "--schedule",
                f"{cron!r} runs more often than every 5 minutes, the shortest "
                "interval GitHub runs a schedule at",
                hint,
            )
        ]
    return []


def plan_fleet(options: CiOptions, version: str) -> str:
    return (
        f"{options.command} matrix -f {shlex.quote(options.fleet_file)} --versions {version} "
        f"--write-fleets {PLANNED}"
    )


def check(options: CiOptions, version: str) -> str:
    return f"{options.command} check --junit {JUNIT}/check-{version}.xml"


# --- GitHub Actions ------------------------------------------------------------------------


def _step(name: str, run: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra, "run": run}


def github(options: CiOptions) -> dict[str, Any]:
    """The workflow as data (`to_yaml` writes it)."""
    triggers: dict[str, Any] = {
        "push": {"branches": ["main"]},
        "pull_request": None,
        "workflow_dispatch": None,
    }
    if options.schedule:
        triggers["schedule"] = [{"cron": options.schedule}]
    kf = options.command
    steps: list[dict[str, Any]] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": options.python}},
        _step("Install kindfleet", f"python -m pip install {options.install}"),
        _step(
            "Install kind ${{ env.KIND_VERSION }} (checksum verified)",
            install_kind(options.kind_sha256),
        ),
        _step("Install kubectl ${{ matrix.kubernetes }} (checksum verified)", install_kubectl()),
        _step("Raise inotify limits (several clusters on one kernel)", INOTIFY),
        _step("Log in to Docker Hub (when a token is set)", DOCKERHUB_LOGIN, env=DOCKERHUB_ENV),
        _step("Pull the fleet's host images once", pull_host_images()),
        {
            "name": "Cache the node image by its digest",
            "uses": "actions/cache@v4",
            "with": {"path": IMAGE_CACHE, "key": "kind-node-${{ matrix.digest }}"},
        },
        _step("Node image ${{ matrix.kubernetes }}", node_image()),
        _step(
            "Plan the fleet at Kubernetes ${{ matrix.kubernetes }}",
            plan_fleet(options, "${{ matrix.kubernetes }}"),
        ),
        _step("kindfleet up", f'{kf} up --kubeconfig "$KUBECONFIG"'),
    ]
    if options.deploy:
        steps.append(_step("kindfleet deploy", f"{kf} deploy"))
    steps.append(_step("kindfleet check", check(options, "${{ matrix.kubernetes }}")))
    steps += [_step(command, command) for command in options.run]
    steps += [
        _step("kindfleet logs export", f"{kf} logs export --out {LOGS}", **{"if": "failure()"}),
        {
            "name": "Upload the logs and JUnit files",
            "if": "failure()",
            "uses": "actions/upload-artifact@v4",
            "with": {
                "name": f"{options.name}-${{{{ matrix.kubernetes }}}}",
                "path": f"{LOGS}\n{JUNIT}",
                "if-no-files-found": "ignore",
            },
        },
        _step("kindfleet down", f'{kf} down --kubeconfig "$KUBECONFIG"', **{"if": "always()"}),
    ]
    job = {
        "name": "${{ matrix.kubernetes }}",
        "runs-on": "ubuntu-24.04",
        "timeout-minutes": options.timeout_minutes,
        "strategy": {
            "fail-fast": False,
            "matrix": {"include": [e.to_dict() for e in entries(options.versions)]},
        },
        "env": {
            "KINDFLEET_FILE": f"{PLANNED}/${{{{ matrix.label }}}}/fleet.yaml",
            "KUBECONFIG": f"${{{{ github.workspace }}}}/{PLANNED}/kubeconfig",
            "NODE_IMAGE": "${{ matrix.image }}",
            "NODE_DIGEST": "${{ matrix.digest }}",
            "KUBERNETES_VERSION": "${{ matrix.kubernetes }}",
        },
        "steps": steps,
    }
    return {
        "name": options.name,
        "on": triggers,
        "permissions": {"contents": "read"},
        "concurrency": {
            "group": "${{ github.workflow }}-${{ github.ref }}",
            "cancel-in-progress": True,
        },
        "env": {"KIND_VERSION": pins.KIND_VERSION},
        "jobs": {_job_id(options.name): job},
    }


def _job_id(name: str) -> str:
    """A job id of `name`: letters, digits, - and _, starting with a letter or _."""
    found = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in name)
    return found if found[:1].isalpha() or found[:1] == "_" else f"_{found}"


# --- GitLab CI -----------------------------------------------------------------------------


def gitlab(options: CiOptions) -> dict[str, Any]:
    """The pipeline as data. GitLab's shared runners cannot run KIND (no privileged Docker
    on the job's own kernel), so the job goes to a shell runner with Docker and sudo,
    tagged `runner_tag`."""
    kf = options.command
    script = [
        f"python{options.python} -m venv .venv",
        f"python -m pip install {options.install}",
        install_kind(options.kind_sha256),
        install_kubectl(),
        INOTIFY,
        node_image(),
        plan_fleet(options, "${KUBERNETES_VERSION}"),
        f'{kf} up --kubeconfig "$KUBECONFIG"',
    ]
    if options.deploy:
        script.append(f"{kf} deploy")
    script.append(check(options, "${KUBERNETES_VERSION}"))
    script += list(options.run)
    job: dict[str, Any] = {
        "stage": "test",
        "tags": [options.runner_tag],
        "timeout": f"{options.timeout_minutes}m",
        "variables": {
            "KINDFLEET_FILE": f"{PLANNED}/${{LABEL}}/fleet.yaml",
            "KUBECONFIG": f"${{CI_PROJECT_DIR}}/{PLANNED}/kubeconfig",
            "PATH": "${CI_PROJECT_DIR}/.venv/bin:${PATH}",
        },
        "parallel": {
            "matrix": [
                {
                    "KUBERNETES_VERSION": e.kubernetes,
                    "LABEL": e.label,
                    "NODE_IMAGE": e.image,
                    "NODE_DIGEST": e.digest,
                }
                for e in entries(options.versions)
            ]
        },
        "cache": {"key": "kind-node-${NODE_DIGEST}", "paths": [f"{IMAGE_CACHE}/"]},
        "script": script,
        "after_script": [
            f'if [ "$CI_JOB_STATUS" = failed ]; then {kf} logs export --out {LOGS} || true; fi',
            f'{kf} down --kubeconfig "$KUBECONFIG"',
        ],
        "artifacts": {
            "when": "always",
            "paths": [f"{LOGS}/", f"{JUNIT}/"],
            "reports": {"junit": f"{JUNIT}/*.xml"},
            "expire_in": "1 week",
        },
    }
    return {
        "stages": ["test"],
        "variables": {"KIND_VERSION": pins.KIND_VERSION},
        _job_id(options.name): job,
    }


# --- text ------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block scalars for scripts, keys in the order given, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def command_line(options: CiOptions, *, gitlab_ci: bool, out: str) -> str:
    """The `kindfleet ci` command that writes this file again."""
    defaults = CiOptions(options.fleet_file, options.versions)
    words = ["kindfleet", "ci", "github", "-f", options.fleet_file]
    words += ["--versions", ",".join(v.lstrip("v") for v in options.versions)]
    flags: list[tuple[str, Any]] = [
        ("--name", options.name),
        ("--install", options.install),
        ("--python", options.python),
        ("--schedule", options.schedule),
        ("--kind-sha256", options.kind_sha256),
        ("--timeout-minutes", options.timeout_minutes),
        ("--runner-tag", options.runner_tag if gitlab_ci else defaults.runner_tag),
    ]
    for flag, value in flags:
        if value != getattr(defaults, flag[2:].replace("-", "_")):
            words += [flag, str(value)]
    if not options.deploy:
        words.append("--no-deploy")
    for command in options.run:
        words += ["--run", command]
    if gitlab_ci:
        words.append("--gitlab")
    return shlex.join([*words, "--out", out])


MARK = " written by kindfleet; change it by running again:"  # in the first line of each


def written_by_kindfleet(text: str) -> bool:
    """Is this file's text one `to_yaml` wrote (which running again may replace)?"""
    first = text.split("\n", 1)[0]
    return first.startswith("# A ") and first.endswith(MARK)


def to_yaml(data: dict[str, Any], options: CiOptions, *, gitlab_ci: bool, out: str) -> str:
    what = "GitLab CI pipeline" if gitlab_ci else "GitHub Actions workflow"
    versions = ", ".join(options.versions)
    head = [
        f"# A {what}{MARK}",
        f"#   {command_line(options, gitlab_ci=gitlab_ci, out=out)}",
        f"# The fleet {options.fleet_file} at Kubernetes {versions}: up, deploy, check (JUnit),",
        "# the logs and JUnit files kept when a job fails, the fleet down always.",
    ]
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)
    return "\n".join(head) + "\n" + body.replace("\n'on':", "\non:", 1)
