"""HTTP API tokens: made by `qqscan tokens add` (the secret is shown once; only its sha256 is kept), listed,
revoked (at once: every request looks the token up). A token has scopes (`scan`: submit images; `read`:
read scans and images) and a rate per minute the API enforces."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from store.audit import Audit
from store.database import Database, StoreError
from store.models import ApiToken, utcnow

SCOPES = ("scan", "read")
PREFIX = "qqs_"  # tells a qqscan token from other secrets in a log or a leak scanner


class TokenError(StoreError):
    """A token that cannot be made: a bad name or scope, or the name is taken."""


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    scopes: frozenset[str]
    rate_per_minute: int
    created_at: datetime
    revoked_at: datetime | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _client(row: Any) -> Client:
    scopes = frozenset(s for s in row.scopes.split(",") if s)
    return Client(row.id, row.name, scopes, row.rate_per_minute, row.created_at, row.revoked_at)


class ApiTokens:
    def __init__(self, db: Database, audit: Audit) -> None:
        self.db = db
        self._audit = audit

    def add(self, name: str, scopes: set[str], *, rate_per_minute: int = 600, actor: str = "cli") -> str:
        """A new token; returns its secret (shown once)."""
        name = name.strip()
        if not name or len(name) > 128:
            raise TokenError("a token needs a name of 1-128 characters")
        unknown = sorted(scopes - set(SCOPES))
        if unknown or not scopes:
            raise TokenError(f"scopes are {', '.join(SCOPES)} (given: {', '.join(sorted(scopes)) or 'none'})")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.db.write() as conn:
            if conn.execute(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
                raise TokenError(f"a token named {name!r} exists (revoke it first, or pick another name)")
            conn.execute(
                self.db.insert(ApiToken).values(
                    name=name,
                    token_hash=_digest(secret),
                    scopes=",".join(sorted(scopes)),
                    rate_per_minute=rate_per_minute,
                    created_at=utcnow(),
                )
            )
            self._audit.append(conn, actor, "token_add", name, {"scopes": sorted(scopes)})
        return secret

    def client(self, secret: str) -> Client | None:
        """The live token with this secret, or None (unknown or revoked)."""
        if not secret:
            return None
        with self.db.read() as conn:
            row = conn.execute(
                select(ApiToken).where(ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None))
            ).first()
        return _client(row) if row is not None else None

    def list(self) -> list[Client]:
        with self.db.read() as conn:
            return [_client(r) for r in conn.execute(select(ApiToken).order_by(ApiToken.id))]

    def revoke(self, name: str, *, actor: str = "cli") -> bool:
        """False when there is no live token of that name."""
        with self.db.write() as conn:
            n = conn.execute(
                update(ApiToken)
                .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            ).rowcount
            if n:
                self._audit.append(conn, actor, "token_revoke", name, None)
        return bool(n)
