"""The refusals the hub answers with, each bound to its HTTP status.

They subclass the store's `Refusal` so that a job raising one inside a group commit
only fails its own caller; the app turns them into `ProblemDetail` bodies.
"""

from __future__ import annotations

from kindfleet.platform.store import Refusal, StoreUnavailable

__all__ = [
    "Conflict",
    "Forbidden",
    "HubError",
    "Invalid",
    "NotFound",
    "StoreUnavailable",
    "TooLarge",
    "Unauthorized",
    "UnsupportedMedia",
]


class HubError(Refusal):
    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Unauthorized(HubError):
    status = 401
    title = "Unauthorized"


class Forbidden(HubError):
    status = 403
    title = "Forbidden"


class Gone(HubError):
    """A spoke credential the hub took back: its agent must stop what it runs."""

    status = 410
    title = "Gone"


class NotFound(HubError):
    status = 404
    title = "Not Found"


class Conflict(HubError):
    status = 409
    title = "Conflict"


class Invalid(HubError):
    status = 422
    title = "Unprocessable Content"

    @classmethod
    def at(cls, path: str, message: str) -> Invalid:
        return cls(f"{path}: {message}", errors=[{"path": path, "message": message}])


class UnsupportedMedia(HubError):
    status = 415
    title = "Unsupported Media Type"


class TooLarge(HubError):
    status = 413
    title = "Content Too Large"
