"""Anthropic-style errors: `{"type": "error", "error": {"type": …, "message": …}}` with the right status."""

from __future__ import annotations

from typing import Any

# HTTP status -> Anthropic error type (as documented for the Messages API)
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
          500: "api_error", 502: "api_error", 503: "api_error", 504: "api_error", 529: "overloaded_error"}


class ProxyError(Exception):
    def __init__(self, message: str, status: int = 400, err_type: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type or _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.err_type)


def error_body(message: str, err_type: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": err_type, "message": message}}


def invalid(message: str) -> ProxyError:
    return ProxyError(message, 400, "invalid_request_error")
