"""Request and response shapes (pydantic): they validate what comes in and are where the OpenAPI document's
schemas come from (api/openapi.py), so the document cannot drift from the code."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

MAX_URLS = 32  # per request, as the vendors' batch endpoints
MAX_WAIT = 30.0  # seconds a client may ask the API to wait for verdicts


class ScanRequest(BaseModel):
    """One image URL or up to 32; `wait` (seconds, at most 30) returns the verdicts inline when ready."""

    urls: list[str] = Field(min_length=1, max_length=MAX_URLS)
    shop: str | None = Field(default=None, max_length=128)
    listing: str | None = Field(default=None, max_length=128)
    wait: float = Field(default=0.0, ge=0.0, le=MAX_WAIT)

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        from urllib.parse import urlsplit

        for url in urls:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 4096:
                raise ValueError(f"not an http(s) URL: {url[:200]!r}")
        return [u.strip() for u in urls]


class ScanJob(BaseModel):
    id: str  # the job id (the same URL always has the same id)
    url: str
    status: Literal["queued", "started", "finished", "failed", "unknown"]
    result: dict[str, Any] | None = None  # the scan's JSON (as `qqscan scan --json`) once finished
    error: str | None = None


class ScanResponse(BaseModel):
    jobs: list[ScanJob]


class ImageResponse(BaseModel):
    sha256: str
    result: dict[str, Any]  # the stored scan (as `qqscan scan --json`, with review_status and urls)


class ProblemResponse(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
