"""ReviewStore: the review state (web app and `qqscan review`) over one Database, split by concern:
accounts and login sessions (store/accounts.py), decisions with undo (store/decisions.py), the allow-list
(store/allowlist.py), the audit log (store/audit.py), the queue's reads (store/queue.py) and contacts
across images and shops (store/contacts.py).

Everything a person does is appended, never rewritten: decisions (an undo is a new row that points at the
one it undoes), allow-list removals (a timestamp on the entry), logins and account changes (audit rows).

It carries no scan-result writes: a caller that needs them builds store.results.Store over the same
`db`.
"""

from __future__ import annotations

from store.accounts import Accounts
from store.allowlist import AllowList
from store.api_tokens import ApiTokens
from store.audit import Audit
from store.contacts import Contacts
from store.database import Database, OverDatabase
from store.decisions import Decisions
from store.queue import ReviewQueue


class ReviewStore(OverDatabase):
    """The review state's parts composed over one Database (`db` is one, a URL, or None for
    QQSCAN_DATABASE_URL / the default file)."""

    def __init__(self, db: Database | str | None = None) -> None:
        super().__init__(db)
        self.audit = Audit(self.db)
        self.accounts = Accounts(self.db, self.audit)
        self.allowlist = AllowList(self.db, self.audit)
        self.decisions = Decisions(self.db, self.allowlist, self.audit)
        self.queue = ReviewQueue(self.db)
        self.contacts = Contacts(self.db, self.audit, self.allowlist)
        self.tokens = ApiTokens(self.db, self.audit)  # the HTTP API's clients (api/)


def pending_by_age(
    db: Database, edges: tuple[float, ...], now: float | None = None
) -> tuple[list[int], float]:
    """The review backlog: images waiting for a moderator (review status "pending" and a newest scan that
    flagged them, what the queue's "pending" tab lists), counted by how long they have waited: the time
    since that newest scan (the queue's "scanned" time). `edges` are ascending ages in seconds: counts[0]
    waited less than edges[0], counts[i] from edges[i-1] up to edges[i], the last edges[-1] or longer
    (len(edges) + 1 counts). Also the longest wait in seconds (0 when nothing waits). `now`: unix time.

    One row of conditional sums (no GROUP BY over a computed bucket, which PostgreSQL refuses when the
    bound cut-offs differ between SELECT and GROUP BY) over the same anti-join as the queue's counts."""
    import time
    from datetime import UTC, datetime

    from sqlalchemy import case, func, select

    from store.models import Image, Scan
    from store.results import newest_scan

    now = time.time() if now is None else now
    cuts = [datetime.fromtimestamp(now - s, UTC) for s in edges]
    conds = [Scan.created_at >= cuts[0]]
    conds += [(Scan.created_at < cuts[i - 1]) & (Scan.created_at >= cuts[i]) for i in range(1, len(cuts))]
    conds.append(Scan.created_at < cuts[-1])
    q = (
        select(*(func.sum(case((c, 1), else_=0)) for c in conds), func.min(Scan.created_at))
        .select_from(Scan)
        .join(Image, Image.sha256 == Scan.image_sha256)
        .where(newest_scan(), Scan.flagged.is_(True), Image.review_status == "pending")
    )
    with db.read() as conn:
        row = conn.execute(q).one()
    oldest = row[-1]
    return [int(n or 0) for n in row[:-1]], max(0.0, now - oldest.timestamp()) if oldest is not None else 0.0
