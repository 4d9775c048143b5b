"""Moved to `executors/kubernetes/gpusim.py`. This name is kept only until the fleet
tooling's tests (tests/unit/deploy/test_commands.py) import it from there; remove it then."""

from kindfleet.platform.agent.executors.kubernetes.gpusim import gpu_status_patch

__all__ = ["gpu_status_patch"]
