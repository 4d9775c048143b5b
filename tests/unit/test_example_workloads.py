"""The workload examples the README points at are valid submissions."""

import pytest
import yaml

from kindfleet.platform.wire import WorkloadSpec
from tests.conftest import EXAMPLES


@pytest.mark.parametrize(
    "path", sorted((EXAMPLES / "workloads").glob("*.yaml")), ids=lambda p: p.name
)
def test_workload_examples_validate(path):
    data = yaml.safe_load(path.read_text())
    specs = [WorkloadSpec.model_validate(d) for d in (data if isinstance(data, list) else [data])]
    assert specs
