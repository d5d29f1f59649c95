"""Moderator accounts, their login sessions and the session-signing secret the review servers share.

Passwords: argon2id; a login for an unknown name costs the same as one for a known name. Sessions: the
cookie carries a random token, the store keeps only its hash; a new password or a disabled account ends
every session at once. Account changes and ended sessions are appended to the audit log.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, select, update

from store.audit import Audit
from store.database import Database, StoreError
from store.models import ReviewSession, Setting, User, utcnow
from store.terms import ROLES

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a login for an unknown name costs the same time.
    Made on first use (an argon2 hash takes ~0.15 s): commands that never check a password skip it."""
    return _hasher.hash(secrets.token_hex(16))


class UserExists(StoreError):
    pass


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str
    disabled: bool
    # Changes whenever the password does (derived from its hash, which it does not reveal): a session made
    # under the old password compares it and ends.
    credential: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Accounts:
    """Users, login sessions (migration 0004) and the session secret, over one Database."""

    def __init__(self, db: Database, audit: Audit) -> None:
        self.db = db
        self._audit = audit

    # --- users ----------------------------------------------------------------------------------------

    def add(self, name: str, password: str, role: str = "moderator") -> UserInfo:
        name = name.strip()
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise ValueError("user name must be 1-64 characters without spaces")
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        with self.db.write() as conn:
            if conn.execute(select(User.id).where(User.name == name)).first():
                raise UserExists(f"user {name!r} already exists")
            uid = conn.execute(
                self.db.insert(User)
                .values(
                    name=name,
                    password_hash=_hasher.hash(password),
                    role=role,
                    disabled=False,
                    created_at=utcnow(),
                )
                .returning(User.id)
            ).scalar_one()
            self._audit.append(conn, "cli", "user_add", name, {"role": role})
        return UserInfo(uid, name, role, False)

    def set_password(self, name: str, password: str, *, actor: str = "cli") -> None:
        if len(password) < 8:
            raise ValueError("password must be at least 8 characters")
        with self.db.write() as conn:
            n = conn.execute(
                update(User).where(User.name == name).values(password_hash=_hasher.hash(password))
            ).rowcount
            if not n:
                raise KeyError(f"no user {name!r}")
            _end_all(conn, name)  # a new password ends every session made with the old one
            self._audit.append(conn, actor, "user_password", name, None)

    def set_disabled(self, name: str, disabled: bool, *, actor: str = "cli") -> None:
        with self.db.write() as conn:
            n = conn.execute(update(User).where(User.name == name).values(disabled=disabled)).rowcount
            if not n:
                raise KeyError(f"no user {name!r}")
            if disabled:
                _end_all(conn, name)
            self._audit.append(conn, actor, "user_disable" if disabled else "user_enable", name, None)

    def verify(self, name: str, password: str) -> UserInfo | None:
        """The user when the password is right and the account enabled; None otherwise (same cost)."""
        with self.db.read() as conn:
            row = conn.execute(select(User).where(User.name == name)).first()
        stored = row.password_hash if row else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        if _hasher.check_needs_rehash(stored):  # parameters moved on since the hash was made
            stored = _hasher.hash(password)
            with self.db.write() as conn:
                conn.execute(update(User).where(User.id == row.id).values(password_hash=stored))
        return UserInfo(row.id, row.name, row.role, row.disabled, _credential(stored))

    def get(self, user_id: int) -> UserInfo | None:
        with self.db.read() as conn:
            row = conn.execute(select(User).where(User.id == user_id)).first()
        return (
            UserInfo(row.id, row.name, row.role, row.disabled, _credential(row.password_hash))
            if row
            else None
        )

    def users(self) -> list[UserInfo]:
        with self.db.read() as conn:
            return [
                UserInfo(r.id, r.name, r.role, r.disabled)
                for r in conn.execute(select(User).order_by(User.id))
            ]

    # --- sessions -------------------------------------------------------------------------------------

    def start_session(
        self, user_id: int, *, hours: float, ip: str | None = None, user_agent: str | None = None
    ) -> str:
        """A new login session for `user_id`, valid for `hours` unless ended sooner. Returns the token the
        cookie carries (only its hash is stored). Also forgets sessions that have expired."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(delete(ReviewSession).where(ReviewSession.expires_at < now))
            conn.execute(
                self.db.insert(ReviewSession).values(
                    id=_token_digest(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                    ip=ip[:64] if ip else None,
                    user_agent=user_agent[:200] if user_agent else None,
                )
            )
        return token

    def issue_token(self, user_id: int, *, days: float, label: str) -> str:
        """A personal token for terminal decisions: a session that lasts `days` and is listed (with
        `label`), ended and revoked like a browser's (`log out everywhere` ends it too)."""
        return self.start_session(user_id, hours=days * 24, user_agent=label)

    def session_user(self, user_id: int, token: str | None) -> UserInfo | None:
        """The user of a live session: the token's row exists, is the user's and has not expired. None
        for a logged-out, ended, expired or foreign token (or none)."""
        if not token or not isinstance(token, str):
            return None
        with self.db.read() as conn:
            row = conn.execute(
                select(User)
                .join(ReviewSession, ReviewSession.user_id == User.id)
                .where(
                    ReviewSession.id == _token_digest(token),
                    User.id == user_id,
                    ReviewSession.expires_at > utcnow(),
                )
            ).first()
        if row is None:
            return None
        return UserInfo(row.id, row.name, row.role, row.disabled, _credential(row.password_hash))

    def end_session(self, token: str | None) -> bool:
        """Logout: the token stops working everywhere at once (a copied cookie too)."""
        if not token or not isinstance(token, str):
            return False
        with self.db.write() as conn:
            n = conn.execute(delete(ReviewSession).where(ReviewSession.id == _token_digest(token))).rowcount
        return bool(n)

    def end_sessions(self, name: str, *, actor: str, session_id: str | None = None) -> int:
        """Log `name` out everywhere (or end one of their sessions, by its id as `sessions()` lists it).
        Returns how many sessions ended; KeyError for an unknown user."""
        with self.db.write() as conn:
            uid = conn.execute(select(User.id).where(User.name == name)).scalar()
            if uid is None:
                raise KeyError(f"no user {name!r}")
            q = delete(ReviewSession).where(ReviewSession.user_id == uid)
            if session_id is not None:
                q = q.where(ReviewSession.id == session_id)
            n = int(conn.execute(q).rowcount or 0)
            detail = {"sessions": n} | ({"session": session_id[:12]} if session_id else {})
            self._audit.append(conn, actor, "sessions_end", name, detail)
        return n

    def sessions(self) -> list[dict[str, Any]]:
        """Live sessions, newest first: id (the token's hash, not the token), user, from where, until when."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    ReviewSession.id,
                    User.name.label("user"),
                    ReviewSession.created_at,
                    ReviewSession.expires_at,
                    ReviewSession.ip,
                    ReviewSession.user_agent,
                )
                .join(User, User.id == ReviewSession.user_id)
                .where(ReviewSession.expires_at > utcnow())
                .order_by(ReviewSession.created_at.desc(), ReviewSession.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def session_id(token: str) -> str:
        """The id under which `sessions()` lists the session a cookie's token belongs to."""
        return _token_digest(token)

    # --- settings -------------------------------------------------------------------------------------

    def secret_key(self) -> str:
        """The session-signing secret shared by every review server on this store: made once, kept, so a
        restart (or a second server process) keeps moderators logged in."""
        with self.db.write() as conn:
            conn.execute(
                self.db.insert(Setting)
                .values(key="session_secret", value=secrets.token_urlsafe(48))
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return conn.execute(select(Setting.value).where(Setting.key == "session_secret")).scalar_one()


def is_admin(conn: Connection, name: str) -> bool:
    """Whether `name` is an enabled admin account (inside the caller's transaction)."""
    role = conn.execute(select(User.role).where(User.name == name, User.disabled.is_(False))).scalar()
    return role == "admin"


def _end_all(conn: Connection, name: str) -> None:
    uid = select(User.id).where(User.name == name).scalar_subquery()
    conn.execute(delete(ReviewSession).where(ReviewSession.user_id == uid))


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _credential(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]
