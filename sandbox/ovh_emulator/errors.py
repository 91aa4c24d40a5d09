"""Errors the emulator answers with, in the real API's two shapes.

- API errors: ``{"class": "Client::NotFound", "message": "..."}`` (:class:`ApiError`);
- authentication-layer errors: ``{"errorCode": "...", "httpCode": "403 Forbidden", "message": "..."}``
  (:class:`AuthError`).

Route modules raise these; the server turns them into answers.
"""

from __future__ import annotations

from http import HTTPStatus

CLASS_BY_STATUS = {
    400: "Client::BadRequest",
    401: "Client::Unauthorized",
    403: "Client::Forbidden",
    404: "Client::NotFound",
    405: "Client::MethodNotAllowed",
    409: "Client::Conflict",
    429: "Client::TooManyRequests",
    460: "Client::Gone",
    500: "Server::InternalServerError",
    501: "Server::NotImplemented",
    502: "Server::BadGateway",
    503: "Server::ServiceUnavailable",
}


class ApiError(Exception):
    """An API error: HTTP ``status`` with body ``{"class": cls, "message": message}``."""

    def __init__(self, status: int, message: str, cls: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.cls = cls if cls is not None else CLASS_BY_STATUS.get(status, "Client::BadRequest")
        self.details = details

    def body(self) -> dict:
        out: dict = {}
        if self.cls:
            out["class"] = self.cls
        out["message"] = self.message
        if self.details:
            out["details"] = self.details
        return out


class BadRequest(ApiError):
    def __init__(self, message: str, cls: str | None = None):
        super().__init__(400, message, cls)


class NotFound(ApiError):
    def __init__(self, message: str = "This service does not exist", cls: str | None = None):
        super().__init__(404, message, cls)


class Conflict(ApiError):
    def __init__(self, message: str, cls: str | None = None):
        super().__init__(409, message, cls)


class Forbidden(ApiError):
    def __init__(self, message: str, cls: str | None = None):
        super().__init__(403, message, cls)


class AuthError(Exception):
    """An authentication-layer error: ``{"errorCode", "httpCode", "message"}``."""

    def __init__(self, status: int, error_code: str, message: str):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict:
        phrase = HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ else ""
        return {"errorCode": self.error_code, "httpCode": f"{self.status} {phrase}".strip(),
                "message": self.message}


def integrity_error(action: str, kind: str, status: str) -> ApiError:
    """``[IntegrityError] 400: Cannot delete NodePool: NodePool status is UPSCALING`` (FACTS.md)."""
    return BadRequest(f"[IntegrityError] 400: Cannot {action} {kind}: {kind} status is {status}")


def require_ready(obj: dict, action: str, kind: str) -> None:
    """Refuse ``action`` on ``obj`` (a ``kind``) with :func:`integrity_error` while it is not READY."""
    if obj["status"] != "READY":
        raise integrity_error(action, kind, obj["status"])


def invalid_data(message: str, request_id: str) -> ApiError:
    """``[InvalidDataError] 400: ... (request ID: ...)`` (FACTS.md)."""
    return BadRequest(f"[InvalidDataError] 400: {message} (request ID: {request_id})")
