"""ReviewStore: the review state (web app and `qqscan review`) over one Database, split by concern:
accounts and login sessions (store/accounts.py), decisions with undo (store/decisions.py), the allow-list
(store/allowlist.py), the audit log (store/audit.py) and the queue's reads (store/queue.py).

Everything a person does is appended, never rewritten: decisions (an undo is a new row that points at the
one it undoes), allow-list removals (a timestamp on the entry), logins and account changes (audit rows).

It carries no scan-result writes: a caller that needs them builds store.results.Store over the same
`db`.
"""

from __future__ import annotations

from store.accounts import Accounts
from store.allowlist import AllowList
from store.audit import Audit
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
        self.decisions = Decisions(self.db, self.allowlist)
        self.queue = ReviewQueue(self.db)
