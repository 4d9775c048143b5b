"""`kindfleet logs export` on the local runtime: the hub's and every agent's process log,
in one folder per cluster, and a summary; a cluster that is not running is one line in
the summary, not an error."""

from __future__ import annotations

import uuid

from kindfleet import Fleet

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: {name}
provider: local
hub: {{}}
spokes:
  - name: {name}-a
    capacity: {{cpu: 1, memory: 1Gi}}
"""


def test_the_local_runtimes_logs_are_exported(tmp_path):
    name = f"logs{uuid.uuid4().hex[:6]}"
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(name=name))
    fleet = Fleet.from_path(path, state_dir=tmp_path / "state")
    fleet.up(preflight=False)
    try:
        result = fleet.export_logs(tmp_path / "logs")
        assert result.problems == ()
        hub_log = (tmp_path / "logs" / f"{name}-hub" / "hub.log").read_text()
        agent_log = (tmp_path / "logs" / f"{name}-a" / "agent.log").read_text()
        assert hub_log.strip() and agent_log.strip()
        for copy in ("hub/hub.log", "a/agent.log"):  # as private as the originals
            assert (tmp_path / "logs" / f"{name}-{copy}").stat().st_mode & 0o777 == 0o600
        assert "nothing missing" in (tmp_path / "logs" / "summary.txt").read_text()
    finally:
        fleet.down()
    gone = fleet.export_logs(tmp_path / "after")
    assert [p.split(":")[0] for p in gone.problems] == [f"{name}-hub", f"{name}-a"]
    assert "missing:" in (tmp_path / "after" / "summary.txt").read_text()
