"""`kindfleet load` (see run.py)."""
