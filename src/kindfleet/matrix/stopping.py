"""Ctrl-C during a matrix: the versions run on worker threads, the interrupt reaches only
the main thread, and every command runs in a session of its own (exec.ProcessRunner), so
nothing stops unless told. Told here: the commands of `up` and of the version's command
are killed, versions not begun are skipped, and each fleet that was brought up is still
taken down ("down, always") before the interrupt goes on.

A runner is interrupted only while its version is before its `down`: the version takes
its runners back (under the same lock) as it enters `down`, so an interrupt never kills
the commands that take a fleet down.
"""

from __future__ import annotations

import threading

from kindfleet.exec import ProcessRunner


class Stop:
    def __init__(self) -> None:
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._live: dict[str, list[ProcessRunner]] = {}

    def track(self, version: str, *runners: ProcessRunner) -> None:
        """These runners carry `version`'s up and command until `release`."""
        with self._lock:
            self._live[version] = list(runners)
            if self.requested.is_set():
                for runner in runners:
                    runner.interrupt()

    def release(self, version: str) -> None:
        """`version` enters its `down`: its runners work again and are no longer killed."""
        with self._lock:
            for runner in self._live.pop(version, []):
                runner.resume()

    def interrupt(self) -> None:
        with self._lock:
            self.requested.set()
            for runners in self._live.values():
                for runner in runners:
                    runner.interrupt()
