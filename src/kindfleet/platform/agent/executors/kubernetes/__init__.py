"""The executor on a real cluster: each run is a batch/v1 Job in the workloads namespace
(`executor.py`), rendered with no I/O (`jobs.py`), read back through watches (`watch.py`,
`jobstatus.py`) and the few API calls of `calls.py`.
"""
