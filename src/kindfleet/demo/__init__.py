"""`kindfleet demo`: the platform routing real work across a local fleet, start to finish."""
