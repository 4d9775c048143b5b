"""The workflows `kindfleet ci` writes pass actionlint and the CI services' own JSON
schemas (check-jsonschema's vendored copies, offline), and the project's own e2e-kind
workflow is exactly what its header's command writes."""

from __future__ import annotations

import resource
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
E2E = ROOT / ".github" / "workflows" / "e2e-kind.yml"

VARIANTS = {
    "default": [],
    "everything": [
        "--versions",
        "1.34,1.35,1.36,1.37",
        "--name",
        "fleet ci",
        "--install",
        "-e .[validate]",
        "--run",
        "make e2e-kind",
        "--run",
        "pytest -m kind",
        "--schedule",
        "0 3 * * 1",
        "--kind-sha256",
        "ab" * 32,
        "--timeout-minutes",
        "30",
        "--no-deploy",
    ],
}


def tool(name, *args, cwd=None):
    return subprocess.run(
        [str(BIN / name), *args], check=False, capture_output=True, text=True, timeout=60, cwd=cwd
    )


def write_all(cli, tmp_path):
    written = {"github": [], "gitlab": []}
    for variant, args in VARIANTS.items():
        for dialect, files in written.items():
            out = (
                tmp_path
                / dialect
                / variant
                / ("w.yml" if dialect == "github" else ".gitlab-ci.yml")
            )
            extra = ["--gitlab"] if dialect == "gitlab" else []
            result = cli(
                "ci",
                "github",
                "-f",
                str(ROOT / "examples" / "article.yaml"),
                *args,
                *extra,
                "--out",
                str(out),
            )
            assert result.code == 0, result.err
            files.append(out)
    return written


def test_generated_workflows_pass_actionlint_and_the_schemas_which_refuse_a_broken_one(
    cli, tmp_path
):
    """Each checker gets the generated files and one broken file (a step with both run and
    uses, a job with no runner; a GitLab job whose script is a number): it must name the
    broken file, and only that one, so the oracle is shown able to say no."""
    written = write_all(cli, tmp_path)
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    steps:\n      - run: echo\n        uses: actions/checkout@v4\n"
    )
    bad_gitlab = tmp_path / "bad-gitlab.yml"
    bad_gitlab.write_text("job:\n  script: 3\n  when: sometimes\n")
    # Paths relative to the files' folder, run from there: a checker may print a path
    # relative to where it runs (actionlint does), and these are then the words it prints.
    github = [str(p.relative_to(tmp_path)) for p in written["github"]]
    gitlab = [str(p.relative_to(tmp_path)) for p in written["gitlab"]]
    bad, bad_gitlab = bad.relative_to(tmp_path), bad_gitlab.relative_to(tmp_path)
    for checked, files, broken in (
        (tool("actionlint", "-no-color", *github, str(bad), cwd=tmp_path), github, bad),
        (
            tool(
                "check-jsonschema",
                "--builtin-schema",
                "vendor.github-workflows",
                *github,
                str(bad),
                cwd=tmp_path,
            ),
            github,
            bad,
        ),
        (
            tool(
                "check-jsonschema",
                "--builtin-schema",
                "vendor.gitlab-ci",
                *gitlab,
                str(bad_gitlab),
                cwd=tmp_path,
            ),
            gitlab,
            bad_gitlab,
        ),
    ):
        said = checked.stdout + checked.stderr
        assert checked.returncode != 0 and str(broken) in said, said
        assert not [f for f in files if f in said], said


def test_the_projects_e2e_workflow_is_what_kindfleet_ci_writes(cli, monkeypatch):
    """Change the workflow by running the command in its header (from the repository's root)."""
    header = E2E.read_text().splitlines()[1]
    words = shlex.split(header.removeprefix("#"))
    assert words[:3] == ["kindfleet", "ci", "github"]
    assert words[words.index("--out") + 1] == ".github/workflows/e2e-kind.yml"
    words[words.index("--out") + 1] = "-"
    monkeypatch.chdir(ROOT)
    result = cli(*words[1:])
    assert result.code == 0, result.err
    assert result.out == E2E.read_text().replace(
        "--out .github/workflows/e2e-kind.yml", "--out -", 1
    ), "run the command in the header of .github/workflows/e2e-kind.yml"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--versions", "1.28"],
            "--versions: kind v0.33.0 publishes no node image for Kubernetes 1.28",
        ),
        (["--kind-sha256", "abc"], "--kind-sha256 'abc' is not a sha256"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(cli, args, says):
    result = cli("ci", "github", "-f", str(ROOT / "examples" / "minimal.yaml"), *args, "--out", "-")
    assert result.code == 2 and says in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_projects_own_workflow_is_never_replaced_unasked(cli, tmp_path, monkeypatch, kind):
    """A project's `.gitlab-ci.yml` (or a workflow of its own at the same path) is kept,
    with how to go on; kindfleet's own file is replaced by running again, any with --force."""
    monkeypatch.chdir(tmp_path)
    fleet = "fleet.yaml"  # in the repository the workflow checks out: here
    shutil.copy(ROOT / "examples" / "minimal.yaml", tmp_path / fleet)
    path = tmp_path / (".gitlab-ci.yml" if kind == "gitlab" else ".github/workflows/kindfleet.yml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("stages: [build, test, deploy]\n")
    refused = cli("ci", kind, "-f", fleet)
    assert refused.code == 2, refused.err
    assert f"{path.relative_to(tmp_path)} exists and kindfleet did not write it" in refused.err
    assert "--force" in refused.err and "Traceback" not in refused.err
    assert path.read_text() == "stages: [build, test, deploy]\n"
    assert cli("ci", kind, "-f", fleet, "--force").code == 0
    ours = path.read_text()
    assert ours.startswith("# A ")
    again = cli("ci", kind, "-f", fleet, "--versions", "1.35")
    assert again.code == 0, again.err  # its own file: written again
    assert path.read_text() != ours


def test_out_to_a_device_is_written_not_read(cli):
    """The check for a project's own file reads regular files only, and their first line:
    `--out /dev/null` is a dry run, not a refusal (nor /dev/zero a memory error)."""
    fleet = str(ROOT / "examples" / "minimal.yaml")
    assert cli("ci", "github", "-f", fleet, "--out", "/dev/null").code == 0


# Found from outside: a path split by the job's shell, fleets only the jobs refused, a
# mix of versions flattened unsaid, a failed write that cut the last workflow short.
LONG_HUB = """apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: ffffffffffffffffffffffff
hub: {name: cccccccccccccccccccccccccccccccccccccccc}
spokes: [{name: s1}]
"""
EXISTING = """apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: ex
provider: existing
hub: {context: my-hub}
spokes: [{name: s1, context: my-s1}]
"""
SKEW = """apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: skew
hub: {kubernetesVersion: "1.35"}
spokes: [{name: sp, kubernetesVersion: "1.37"}]
"""


@pytest.mark.parametrize("name", ["x;id.yaml", "a b.yaml", "$(touch pwned).yaml", "#h.yaml"])
def test_a_hostile_file_name_is_one_word_of_the_jobs_shell(cli, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "minimal.yaml", tmp_path / name)
    written = cli("ci", "github", "-f", str(tmp_path / name), "--out", "w.yml")
    assert written.code == 0, written.err
    (line,) = [x for x in (tmp_path / "w.yml").read_text().splitlines() if " matrix -f " in x]
    assert shlex.split(line.split("run: ", 1)[1])[2:4] == ["-f", name]  # relative to the root
    checked = tool("actionlint", "-no-color", "w.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (LONG_HUB, "is 46 characters"),
        (EXISTING, "provider existing uses clusters that already exist"),
    ],
)
def test_a_fleet_no_job_could_plan_is_refused_before_writing(
    cli, tmp_path, monkeypatch, text, says
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text(text)
    result = cli("ci", "github", "-f", "fleet.yaml", "--versions", "1.37", "--out", "w.yml")
    assert result.code == 2 and says in result.err, result.err
    assert not (tmp_path / "w.yml").exists()


def test_a_fleet_of_mixed_versions_is_told_each_job_runs_one(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet.yaml").write_text(SKEW)
    result = cli("ci", "github", "-f", "fleet.yaml", "--out", "w.yml")
    assert result.code == 0, result.err
    assert "the file's own mix is not one of the jobs" in result.err
    assert "--versions" in result.err


def test_a_write_that_fails_leaves_the_last_workflow_whole(tmp_path):
    """`ulimit -f` (or a full disk) stops the write half way: the file before stays."""
    shutil.copy(ROOT / "examples" / "minimal.yaml", tmp_path / "fleet.yaml")
    argv = [sys.executable, "-m", "kindfleet", "ci", "github", "-f", "fleet.yaml"]
    first = subprocess.run([*argv, "--out", "w.yml"], cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "w.yml").read_bytes()
    assert len(before) > 2048
    cut = subprocess.run(
        [*argv, "--versions", "1.35", "--out", "w.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024)),
    )
    assert cut.returncode != 0 and "would grow past the largest file" in cut.stderr, cut.stderr
    assert "Traceback" not in cut.stderr and "bug" not in cut.stderr
    assert (tmp_path / "w.yml").read_bytes() == before
    assert {p.name for p in tmp_path.iterdir()} == {"fleet.yaml", "w.yml"}  # no temporary left


def test_a_gitlab_schedule_is_said_to_belong_to_the_project(cli, tmp_path, monkeypatch):
    """`.gitlab-ci.yml` holds no cron (its rules matched every pipeline, found from
    outside): the cron goes into the project's schedules, as the command says."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "minimal.yaml", tmp_path / "fleet.yaml")
    result = cli("ci", "gitlab", "-f", "fleet.yaml", "--out", "g.yml")
    assert result.code == 0, result.err
    plain = (tmp_path / "g.yml").read_text()
    result = cli(
        "ci", "github", "--gitlab", "-f", "fleet.yaml", "--schedule", "17 3 * * *", "--out", "g.yml"
    )
    assert result.code == 0, result.err
    assert "Pipeline schedules" in result.err and "17 3 * * *" in result.err
    scheduled = (tmp_path / "g.yml").read_text()
    assert scheduled.split("\n", 3)[3] == plain.split("\n", 3)[3]  # the jobs: unchanged


def test_out_to_a_pipe_or_through_a_link_is_written_where_it_leads(tmp_path):
    """The whole-or-nothing write renames a temporary file into place: a pipe
    (`--out /dev/stdout | ...`) is written as it is, a link's target is replaced, not the link."""
    shutil.copy(ROOT / "examples" / "minimal.yaml", tmp_path / "fleet.yaml")
    argv = [sys.executable, "-m", "kindfleet", "ci", "github", "-f", "fleet.yaml", "--out"]
    piped = subprocess.run([*argv, "/dev/stdout"], cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("# A GitHub Actions workflow written by kindfleet")
    (tmp_path / "real.yml").write_text(piped.stdout)
    (tmp_path / "link.yml").symlink_to("real.yml")
    linked = subprocess.run([*argv, "link.yml", "--versions", "1.35"], cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
    assert linked.returncode == 0, linked.stderr
    assert (tmp_path / "link.yml").is_symlink()
    assert "v1.35" in (tmp_path / "real.yml").read_text()
