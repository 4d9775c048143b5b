"""`kindfleet load`: submit, watch to completion, report (run.py, report.py)."""

from kindfleet.load.run import LoadOptions, LoadResult, Progress, check, percentiles, run

__all__ = ["LoadOptions", "LoadResult", "Progress", "check", "percentiles", "run"]
