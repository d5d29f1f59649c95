"""Errors as RFC 9457 problem details: `application/problem+json` with type, title, status, detail and a
stable `code`, for every error the API returns (never a traceback or an HTML page)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from ground.errors import QqscanError

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(QqscanError):
    """An API error with its HTTP status and a stable machine-readable code."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def response(status: int, code: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": f"urn:qqscan:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return response(exc.status, exc.code, exc.detail, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(status, f"http_{status}")
        return response(status, code, exc.description or TITLES.get(status, "Error"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unexpected error")  # the trace goes to the server's log, never to the client
        return response(500, "internal", "the server failed; the operator's log has the details")
