"""The embedded runtime's executor: each run is a tree of local processes that a launcher
starts, watches and kills as a whole (see `launcher.py` for how and why).

Nothing is imported with the package: the launcher runs from it as its own program.
"""
