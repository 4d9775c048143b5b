"""The image's health check: hub by /healthz, agent by its loop's sign of life."""

from __future__ import annotations

import os
import time

from kindfleet.platform import health
from kindfleet.platform.hub.testing import HubProcess


def test_agent_is_healthy_while_its_loop_turns(tmp_path):
    assert "no sign of life" in health.check_agent(tmp_path)
    health.mark_alive(tmp_path)
    assert health.check_agent(tmp_path) is None
    stale = time.time() - health.STALE_AFTER - 5
    os.utime(tmp_path / health.ALIVE_FILE, (stale, stale))
    assert "last turned" in health.check_agent(tmp_path)
    assert health.main(["agent", "--state-dir", str(tmp_path)]) == 1


def test_role_comes_from_the_command_line(tmp_path):
    health.mark_alive(tmp_path)
    agent = ["python", "-m", "kindfleet.platform.agent", "--state-dir", str(tmp_path)]
    assert health.check_cmdline(agent) is None
    assert "name one" in health.check_cmdline(["sleep", "1"])
    dead_hub = ["python", "-m", "kindfleet.platform.hub", "--port=1"]
    assert "did not answer" in health.check_cmdline(dead_hub)


def test_hub_is_healthy_when_healthz_answers(tmp_path):
    hub = HubProcess(home=tmp_path).start()
    try:
        assert hub.port is not None
        assert health.check_hub(hub.port) is None
        assert health.main(["hub", "--port", str(hub.port)]) == 0
    finally:
        assert hub.stop() == 0
    assert health.check_hub(hub.port) is not None
