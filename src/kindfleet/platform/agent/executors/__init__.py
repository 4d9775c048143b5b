"""What actually runs work: `process/` (local processes through a launcher, the embedded
runtime) and `kubernetes/` (a batch/v1 Job per run), behind the interface in `base.py`;
`factory.py` picks one by the agent's `--executor` flag.

Nothing is imported with the package: the process executor's launcher is a small program
inside it that must not load the agent's model stack when it starts.
"""
