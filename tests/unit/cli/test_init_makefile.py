"""`kindfleet init --makefile`: the article's make targets as kindfleet commands."""

from __future__ import annotations


def test_init_writes_the_articles_targets_as_kindfleet_commands(cli, tmp_path):
    makefile, fleet = tmp_path / "Makefile", tmp_path / "fleet.yaml"
    result = cli("init", "--makefile", str(makefile), str(fleet))
    assert result.code == 0, result.err
    text = makefile.read_text()
    for target in ("kind-up:", "deploy-local:", "test-failover:", "load-test:", "kind-down:"):
        assert target in text
    assert f"FLEET ?= {fleet}" in text
    assert "check -f $(FLEET) --suite failover" in text
    assert "load -f $(FLEET) --requests $(REQUESTS)" in text
    assert fleet.exists()
    again = cli("init", "--makefile", str(makefile), str(fleet))
    assert again.code == 2 and "already exists" in again.err
