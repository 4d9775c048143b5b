"""The CI workflows as data: every step the article's CI job has, in order, per version."""

from __future__ import annotations

import dataclasses
import re
import shlex

import pytest
import yaml

from kindfleet import pins
from kindfleet.ci import CiOptions, command_line, entries, github, gitlab, problems, to_yaml
from kindfleet.ci.workflow import written_by_kindfleet
from kindfleet.kind import images
from kindfleet.pins import HOST_IMAGES

VERSIONS = ("v1.35.8", "v1.36.4")
OPTIONS = CiOptions("examples/minimal.yaml", VERSIONS)


def steps_of(data):
    (job,) = data["jobs"].values()
    return job["steps"]


def named(steps, name):
    return next(s for s in steps if s.get("name") == name)


def test_one_job_per_version_with_its_pinned_image_and_digest():
    assert [e.to_dict() for e in entries(VERSIONS)] == [
        {
            "kubernetes": v,
            "label": f"v1-{v.split('.')[1]}",
            "image": images.IMAGES[v],
            "digest": images.IMAGES[v].split("@sha256:")[1],
        }
        for v in VERSIONS
    ]
    (job,) = github(OPTIONS)["jobs"].values()
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["include"] == [e.to_dict() for e in entries(VERSIONS)]
    assert job["env"]["KINDFLEET_FILE"] == ".kindfleet/${{ matrix.label }}/fleet.yaml"


def test_the_steps_go_as_the_articles_ci_job_does():
    names = [s.get("name", s.get("uses")) for s in steps_of(github(OPTIONS))]
    assert names == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Install kindfleet",
        "Install kind ${{ env.KIND_VERSION }} (checksum verified)",
        "Install kubectl ${{ matrix.kubernetes }} (checksum verified)",
        "Raise inotify limits (several clusters on one kernel)",
        "Log in to Docker Hub (when a token is set)",
        "Pull the fleet's host images once",
        "Cache the node image by its digest",
        "Node image ${{ matrix.kubernetes }}",
        "Plan the fleet at Kubernetes ${{ matrix.kubernetes }}",
        "kindfleet up",
        "kindfleet deploy",
        "kindfleet check",
        "kindfleet logs export",
        "Upload the logs and JUnit files",
        "kindfleet down",
    ]


def test_kind_and_kubectl_are_pinned_and_checked_against_their_checksums():
    data = github(OPTIONS)
    assert data["env"]["KIND_VERSION"] == pins.KIND_VERSION
    steps = steps_of(data)
    kind = named(steps, "Install kind ${{ env.KIND_VERSION }} (checksum verified)")["run"]
    assert "/dl/${KIND_VERSION}/kind-linux-amd64" in kind
    assert "kind-linux-amd64.sha256sum" in kind and "sha256sum --check --strict" in kind
    own = steps_of(github(CiOptions("f.yaml", VERSIONS, kind_sha256="ab" * 32)))
    pinned = named(own, "Install kind ${{ env.KIND_VERSION }} (checksum verified)")["run"]
    assert f'echo "{"ab" * 32}  kind" | sha256sum --check --strict' in pinned
    assert 'sha256sum"' not in pinned and ".sha256sum" not in pinned
    kubectl = named(steps, "Install kubectl ${{ matrix.kubernetes }} (checksum verified)")["run"]
    assert "/release/${KUBERNETES_VERSION}/bin/linux/amd64/kubectl.sha256" in kubectl
    assert "sha256sum --check --strict" in kubectl


def test_inotify_is_raised_and_the_node_image_cached_by_digest():
    steps = steps_of(github(OPTIONS))
    assert (
        "fs.inotify.max_user_instances=512"
        in named(steps, "Raise inotify limits (several clusters on one kernel)")["run"]
    )
    cache = named(steps, "Cache the node image by its digest")
    assert cache["uses"] == "actions/cache@v4"
    assert cache["with"] == {
        "path": ".kindfleet/node-images",
        "key": "kind-node-${{ matrix.digest }}",
    }
    load = named(steps, "Node image ${{ matrix.kubernetes }}")["run"]
    assert 'docker pull "${NODE_IMAGE}"' in load and "docker load -i" in load


def test_up_deploy_check_with_junit_then_logs_and_artifacts_on_failure_and_down_always():
    steps = steps_of(github(OPTIONS))
    plan = named(steps, "Plan the fleet at Kubernetes ${{ matrix.kubernetes }}")["run"]
    assert shlex.split(plan) == [
        "kindfleet",
        "matrix",
        "-f",
        "examples/minimal.yaml",
        "--versions",
        "${{",
        "matrix.kubernetes",
        "}}",
        "--write-fleets",
        ".kindfleet",
    ]
    assert (
        named(steps, "kindfleet check")["run"]
        == "kindfleet check --junit junit/check-${{ matrix.kubernetes }}.xml"
    )
    assert "if" not in named(steps, "kindfleet up")
    logs = named(steps, "kindfleet logs export")
    assert (logs["if"], logs["run"]) == ("failure()", "kindfleet logs export --out kindfleet-logs")
    upload = named(steps, "Upload the logs and JUnit files")
    assert upload["if"] == "failure()" and upload["with"]["path"] == "kindfleet-logs\njunit"
    down = named(steps, "kindfleet down")
    assert down["if"] == "always()" and down is steps[-1]


def test_no_deploy_extra_commands_and_a_schedule():
    options = CiOptions(
        "f.yaml", VERSIONS, deploy=False, run=("make e2e", "pytest -x"), schedule="17 4 * * *"
    )
    data = github(options)
    names = [s.get("name") for s in steps_of(data)]
    assert "kindfleet deploy" not in names
    assert names[names.index("kindfleet check") + 1 : names.index("kindfleet logs export")] == [
        "make e2e",
        "pytest -x",
    ]
    assert data["on"]["schedule"] == [{"cron": "17 4 * * *"}]
    assert "schedule" not in github(OPTIONS)["on"]


def test_gitlab_has_the_same_steps_in_one_script():
    data = gitlab(CiOptions("f.yaml", VERSIONS, run=("make e2e",), runner_tag="big"))
    job = data["kindfleet"]
    assert data["variables"]["KIND_VERSION"] == pins.KIND_VERSION
    assert job["tags"] == ["big"]
    assert [m["KUBERNETES_VERSION"] for m in job["parallel"]["matrix"]] == list(VERSIONS)
    assert job["cache"]["key"] == "kind-node-${NODE_DIGEST}"
    script = job["script"]
    assert "sha256sum --check --strict" in script[2] and "kubectl.sha256" in script[3]
    assert script[4].startswith("sudo sysctl -w fs.inotify")
    assert script[-4:] == [
        'kindfleet up --kubeconfig "$KUBECONFIG"',
        "kindfleet deploy",
        "kindfleet check --junit junit/check-${KUBERNETES_VERSION}.xml",
        "make e2e",
    ]
    assert "logs export" in job["after_script"][0] and "failed" in job["after_script"][0]
    assert job["after_script"][1] == 'kindfleet down --kubeconfig "$KUBECONFIG"'
    assert job["artifacts"]["reports"]["junit"] == "junit/*.xml"


@pytest.mark.parametrize("gitlab_ci", [False, True])
def test_the_text_says_how_to_write_it_again_and_reads_back_as_the_data(gitlab_ci):
    options = CiOptions("f.yaml", VERSIONS, name="e2e", install="-e .", run=("make e2e",))
    data = gitlab(options) if gitlab_ci else github(options)
    text = to_yaml(data, options, gitlab_ci=gitlab_ci, out="-")
    again = text.splitlines()[1].removeprefix("#   ")
    assert again == command_line(options, gitlab_ci=gitlab_ci, out="-")
    words = shlex.split(again)
    assert words[:5] == ["kindfleet", "ci", "github", "-f", "f.yaml"]
    assert ("--gitlab" in words) == gitlab_ci
    assert words[words.index("--install") + 1] == "-e ."
    loaded = yaml.safe_load(text)
    if not gitlab_ci:
        loaded["on"] = loaded.pop(True)  # YAML 1.1 readers take `on` for true; GitHub does not
    assert loaded == yaml.safe_load(yaml.safe_dump(data))


@pytest.mark.parametrize("gitlab_ci", [False, True])
def test_what_kindfleet_wrote_is_known_from_a_projects_own_file(gitlab_ci):
    """`kindfleet ci` replaces its own file when run again, never a project's own."""
    options = CiOptions("f.yaml", VERSIONS)
    data = gitlab(options) if gitlab_ci else github(options)
    assert written_by_kindfleet(to_yaml(data, options, gitlab_ci=gitlab_ci, out="-"))
    for theirs in (
        "",
        "stages: [build]\n",
        "# A GitLab CI pipeline\nstages: [build]\n",
        "include:\n  - local: ci/kindfleet.yml  # A GitHub Actions workflow written by kindfleet; "
        "change it by running again:\n",
        "jobs: {}\n# A GitHub Actions workflow written by kindfleet; change it by running again:",
    ):
        assert not written_by_kindfleet(theirs), theirs


def test_docker_hub_login_only_with_a_token_and_the_secret_never_in_the_command():
    steps = {s.get("name"): s for s in steps_of(github(OPTIONS))}
    login = steps["Log in to Docker Hub (when a token is set)"]
    assert login["env"]["DOCKERHUB_TOKEN"] == "${{ secrets.DOCKERHUB_TOKEN }}"
    assert "secrets." not in login["run"]  # read from the environment, never interpolated
    assert "--password-stdin" in login["run"]
    assert all(image in steps["Pull the fleet's host images once"]["run"] for image in HOST_IMAGES)


# What a job's shell and YAML would take otherwise than meant: found from outside.
HOSTILE_NAMES = ["x;id.yaml", "a b.yaml", "$(touch pwned).yaml", "`id`.yaml", "#h.yaml",
                 "q'uote.yaml", "*&.yaml", "dir with space/f.yaml"]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("make", [github, gitlab])
def test_the_fleet_files_path_reaches_the_shell_as_one_word(name, make):
    options = CiOptions(name, VERSIONS)
    assert problems(options, gitlab_ci=make is gitlab) == []
    text = to_yaml(make(options), options, gitlab_ci=make is gitlab, out="-")
    runs = [line for line in text.splitlines() if " matrix -f " in line]
    assert runs
    for line in runs:
        words = shlex.split(line.split("kindfleet matrix", 1)[1])
        assert words[:2] == ["-f", name], line
    assert yaml.safe_load(text)  # still one document, the header all comment


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"fleet_file": "f\nrun-name: injected\n#.yaml"}, "-f"),
        ({"fleet_file": "f\u2028x.yaml"}, "-f"),
        ({"fleet_file": "f\x85x.yaml"}, "-f"),
        ({"fleet_file": "${{ github.event.issue.title }}.yaml"}, "-f"),
        ({"fleet_file": "/home/me/fleet.yaml"}, "-f"),
        ({"fleet_file": "../fleet.yaml"}, "-f"),
        ({"name": ""}, "--name"),
        ({"name": "a\nb: c"}, "--name"),
        ({"name": "e2e/nightly"}, "--name"),
        ({"name": "${{ github.event.issue.title }}"}, "--name"),
        ({"name": "x" * 101}, "--name"),
        ({"python": "3.11\nfoo"}, "--python"),
        ({"install": "kindfleet\u2029x"}, "--install"),
        ({"run": ("echo a\n  b: c",)}, "--run"),
        ({"run": ("",)}, "--run"),
        ({"run": ("  ",)}, "--run"),
        ({"schedule": "not a cron"}, "--schedule"),
        ({"schedule": "0 3 * *"}, "--schedule"),
        ({"schedule": "* * * * *"}, "--schedule"),
        ({"schedule": "*/2 * * * *"}, "--schedule"),
        ({"schedule": "0 3 * * *\n"}, "--schedule"),
    ],
)
def test_a_value_no_ci_system_takes_as_meant_is_named_by_its_flag(change, flag):
    found = problems(dataclasses.replace(OPTIONS, **change), gitlab_ci=False)
    assert [f for f, _, _ in found] == [flag], found


def test_values_a_ci_system_takes_are_not_refused():
    fine = dataclasses.replace(
        OPTIONS, name="e2e nightly-2", python="pypy3.10", run=("make e2e", "echo 'a; b'"),
        schedule="*/5 3 * * MON-FRI", install="-e .",
    )  # fmt: skip
    assert problems(fine, gitlab_ci=False) == []
    assert [
        f for f, _, _ in problems(dataclasses.replace(fine, runner_tag=""), gitlab_ci=True)
    ] == ["--runner-tag"]


@pytest.mark.parametrize("name", ["1abc", "-x", "fleet ci", "é2e", "kindfleet"])
def test_any_name_taken_makes_a_job_id_github_takes(name):
    (job_id,) = github(dataclasses.replace(OPTIONS, name=name))["jobs"]
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", job_id), job_id


def test_kindfleet_is_installed_at_the_release_whose_pins_the_file_carries():
    """The node image digests and kind's release come from the kindfleet that wrote the
    file: an unpinned `pip install kindfleet` drifted from them (found from outside)."""
    from kindfleet._version import __version__

    run = named(steps_of(github(OPTIONS)), "Install kindfleet")["run"]
    assert run == f"python -m pip install kindfleet=={__version__}"
    assert "--install" not in command_line(OPTIONS, gitlab_ci=False, out="-")  # the default
    checkout = dataclasses.replace(OPTIONS, install="-e .")
    assert named(steps_of(github(checkout)), "Install kindfleet")["run"].endswith("install -e .")
