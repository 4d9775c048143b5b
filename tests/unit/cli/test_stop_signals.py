"""What `main` makes of a stop signal (SIGTERM, SIGHUP), in-process: the command ends as
interrupted (130, one line) even when the interrupt lands in a library that reports it as
an error of its own, and the handlers are put back afterwards."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from pydantic import BaseModel, field_serializer

import kindfleet.cli as cli_module
from kindfleet.errors import EXIT_INTERRUPTED


class Signalled(BaseModel):
    """Serialising it sends this process `sig` from inside pydantic's serializer."""

    sig: int

    @field_serializer("sig")
    def _send(self, sig: int) -> Any:
        os.kill(os.getpid(), sig)
        time.sleep(2)  # the handler runs here, in the serializer's call
        return sig


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_inside_a_library_ends_the_command_as_interrupted(cli, monkeypatch, sig):
    seen: list[Exception] = []

    def app() -> None:
        try:
            Signalled(sig=sig).model_dump_json()
        except Exception as exc:  # what the library made of the KeyboardInterrupt
            seen.append(exc)
            raise

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    monkeypatch.setattr(cli_module, "app", app)
    result = cli()
    assert seen and "KeyboardInterrupt" in str(seen[0])  # not a KeyboardInterrupt itself
    assert result.code == EXIT_INTERRUPTED, result.err
    assert result.err.strip() == "error: interrupted"
    assert {s: signal.getsignal(s) for s in before} == before
