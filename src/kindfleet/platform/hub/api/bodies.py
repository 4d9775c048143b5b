"""Request bodies in, response bodies out: the one place that reads and writes JSON.

Bodies are read here rather than by FastAPI so that authentication always comes first
(an anonymous caller learns nothing, not even that its JSON is broken), size is capped,
and the hot submission path pays for one JSON parse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from starlette.types import Receive

from kindfleet.platform.hub.api import problems
from kindfleet.platform.hub.service.refusals import HubError, Invalid, TooLarge, UnsupportedMedia
from kindfleet.platform.wire import MAX_BODY

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], raw: bytes) -> M:
    """The body as `model`, or Invalid (422) naming each bad field, never echoing values."""
    try:
        # Strict, as the schema says: `true` is not an integer, `0` not a boolean. Only a
        # whole number written as 2.0 is still an integer (JSON Schema says it is one).
        return model.model_validate_json(raw, strict=True)
    except ValidationError as strict:
        if not all(_whole_float(e) for e in strict.errors()):
            exc = strict
        else:
            try:
                return model.model_validate_json(raw)
            except ValidationError as lax:
                exc = lax
        errors = problems.validation_errors(exc.errors(include_input=False, include_url=False))
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        raise Invalid(detail, errors=errors) from None


def _whole_float(error: Any) -> bool:
    value = error.get("input")
    return error.get("type") == "int_type" and isinstance(value, float) and value.is_integer()


async def read_body(receive: Receive) -> bytes:
    """The whole body, refused (413) beyond MAX_BODY bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Invalid.at("body", "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def require_json(content_type: str | None) -> None:
    """A body must say it is JSON (`application/json`, parameters allowed): anything else,
    or nothing, is refused with 415 before a byte of it is read."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = f"{media!r}" if media else "none"
        raise UnsupportedMedia(
            f"the body must be JSON: send Content-Type: application/json (got {shown})"
        )


def once(
    request: Request, name: str, refused: Callable[[str, str], HubError] = Invalid.at
) -> str | None:
    """A header that may come once, or not at all; repeated, it is refused by name (read
    as its first line, `Idempotency-Key: k1` and `Idempotency-Key: k2` made k1's workload
    and left k2 unsaid). `refused(name, why)`: the refusal (422 unless the caller says)."""
    values = request.headers.getlist(name)
    if len(values) > 1:
        raise refused(name, f"the request repeats it ({len(values)} times): send it once")
    return values[0] if values else None


async def read_model(request: Request, model: type[M]) -> M:
    content_type = once(request, "Content-Type")
    return await read_json(
        model, content_type, request.headers.get("content-length"), request.receive
    )


async def read_json(
    model: type[M], content_type: str | None, content_length: str | None, receive: Receive
) -> M:
    """The steps of every JSON body, in order: media type, declared size, read, parse.
    Shared by the routes and the submit fast path, so both refuse alike."""
    require_json(content_type)
    declared = content_length or ""
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge(f"the body is larger than {MAX_BODY} bytes")
    return parse(model, await read_body(receive))


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type=problems.JSON)


async def read_optional(request: Request, model: type[M]) -> M:
    """A body that may be left out (no bytes at all): then the model's defaults."""
    raw = await read_body(request.receive)
    if not raw:
        return model()
    require_json(request.headers.get("content-type"))
    return parse(model, raw)


def raw_json(body: bytes, status: int = 200) -> Response:
    """A body already serialised (by a reader, off the event loop)."""
    return Response(body, status_code=status, media_type=problems.JSON)
