"""Providers: what turns a cluster of the fleet into something running (KIND clusters,
existing kubeconfig contexts, or local processes)."""
