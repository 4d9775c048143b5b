"""How the agent, its launcher and the launcher's keepers talk: JSON objects over a local
stream socket, each preceded by its length (4 bytes, big-endian). Standard library only."""

from __future__ import annotations

import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_MESSAGE = 16 << 20  # a spec's argv and env are far below this; more is a broken peer

Message = dict[str, Any]


class FramingError(Exception):
    pass


def encode(message: Message) -> bytes:
    """UTF-8, not ASCII escapes: an emoji is 4 bytes, not 12, so that the largest spec the
    hub takes (256 arguments and 128 variables of 4,096 characters) fits in MAX_MESSAGE."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return HEADER.pack(len(body)) + body


class Decoder:
    """Feed it bytes as they arrive; it hands back every complete message."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        buffer = self._buffer
        buffer += data
        out: list[Message] = []
        at = 0
        while len(buffer) - at >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer, at)
            if size > MAX_MESSAGE:
                raise FramingError(f"a message of {size} bytes")
            end = at + HEADER.size + size
            if len(buffer) < end:
                break
            out.append(json.loads(buffer[at + HEADER.size : end]))
            at = end
        del buffer[:at]  # once per read, not once per message
        return out
