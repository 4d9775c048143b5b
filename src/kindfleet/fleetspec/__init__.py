"""The fleet file: its public schema, its validation and the internal model it resolves to."""

from kindfleet.fleetspec.internal import Cluster, FleetSpec, Node
from kindfleet.fleetspec.load import from_data, from_path, from_text

__all__ = ["Cluster", "FleetSpec", "Node", "from_data", "from_path", "from_text"]
