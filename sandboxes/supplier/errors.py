"""The supplier API's error: one JSON shape, ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ApiError", "FieldError"]

FieldError = Mapping[str, str]
"""``{"field": "recipient.postcode", "code": "invalid_postcode", "message": "..."}``"""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    @classmethod
    def validation(cls, fields: Sequence[FieldError],
                   code: str = "validation_failed",
                   message: str = "the request body is not valid") -> ApiError:
        return cls(422, code, message, {"fields": list(fields)})
