"""A state directory is one spoke's. Found from outside: restarted on it under another
--name, the agent reported the old spoke's runs as the new one's (refused by the hub: the
work stayed Running on the old spoke until that one was declared lost) and offered the old
credential as the new spoke's."""

from __future__ import annotations

from agent_it_helpers import AgentProc, wait_until


def test_a_state_directory_refuses_another_spokes_name(hub, start_agent, tmp_path):
    first = start_agent()
    wait_until(lambda: "spoke1" in hub.double.spokes, what="spoke1 registered")
    assert first.terminate() == 0
    other = AgentProc(tmp_path, hub, "spoke2", [])
    other.state_dir = first.state_dir
    try:
        other.start()
        assert other.proc is not None
        assert other.proc.wait(30) == 2  # a usage error
        out = (tmp_path / "spoke2.out.1").read_text()
        assert "belongs to spoke spoke1, not spoke2" in out
        assert "--state-dir of its own" in out
        assert "spoke2" not in hub.double.spokes  # it never registered
    finally:
        other.cleanup()
    assert first.start().proc is not None  # under its own name it starts as before
    wait_until(lambda: "agent spoke1 up" in first.log(), what="spoke1 again")
