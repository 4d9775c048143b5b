"""Values the CLI takes and the clusters or the platform would choke on later are refused
at once, naming the option: an image reference no cluster can pull, a negative time."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES

FLEET = str(EXAMPLES / "article.yaml")


@pytest.mark.parametrize("ref", ["UPPER CASE::", "", "repo:", "x/Repo:1", "x:" + "t" * 200])
@pytest.mark.parametrize(
    ("words", "option"),
    [(["manifests"], "--image"), (["deploy"], "--image"), (["deploy"], "--tag")],
)
def test_an_image_reference_a_cluster_cannot_pull_is_refused(cli, words, option, ref) -> None:
    result = cli(*words, "-f", FLEET, option, ref)
    assert result.code == 2
    assert f"{option} " in result.err and "is not an image reference" in result.err


@pytest.mark.parametrize(
    "ref",
    [
        "kindfleet/platform:0.1",
        "localhost:5001/kindfleet/platform:0.1",
        "busybox@sha256:" + "a" * 64,
    ],
)
def test_an_image_reference_is_written_as_given(cli, ref) -> None:
    result = cli("manifests", "-f", FLEET, "--image", ref)
    assert result.code == 0, result.err
    assert f"image: {ref}" in result.out


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "soon"])
def test_demo_refuses_a_timeout_that_is_not_a_time(cli, value) -> None:
    result = cli("demo", "--timeout", value)
    assert result.code == 2
    assert "--timeout" in result.err and "more than 0" in result.err


def test_load_refuses_its_numbers_before_it_makes_the_report_folder(cli, tmp_path) -> None:
    report = tmp_path / "report"
    result = cli("load", "-f", FLEET, "-n", "5", "--spokes", "99", "--report", str(report))
    assert result.code == 2
    assert result.err.startswith("error: --spokes 99: fleet platform has")
    assert not report.exists()
