from __future__ import annotations

from pathlib import Path

import pytest

from kindfleet.fleetspec import from_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CALICO = FIXTURES / "calico-excerpt.yaml"
# The whole calico.yaml of the pinned release (gzip), as raw.githubusercontent.com serves it.
WHOLE_CALICO = Path(__file__).resolve().parents[2] / "fixtures" / "calico-v3.32.1.yaml.gz"

FLEET = """\
apiVersion: kindfleet.dev/v1alpha1
kind: Fleet
name: t
registry: {hostPort: 5099}
hub:
  labels: {cluster-role: hub}
spokes:
  count: 3
  template:
    networking: {cni: calico}
"""


@pytest.fixture
def spec():
    return from_text(FLEET)


@pytest.fixture
def calico_manifest():
    return str(CALICO)
