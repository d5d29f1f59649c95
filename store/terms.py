"""The names the store, the review web app and the CLI share, written once: the contact types detectors
report, the review statuses an image moves through and the decisions a moderator can make. No imports, so
`qqscan --help` (click choices) and the web app read them without loading SQLAlchemy or the detectors."""

from __future__ import annotations

# Finding types (detectors): qq_group is a QQ group number, solicitation a request to be contacted
# off-platform without a number (detectors.policy says whether it flags an image).
CONTACT_TYPES = ("qq", "qq_group", "phone", "wechat", "qrcode", "solicitation")
# An image's review status; the database's check constraints (migration 0001) hold the same four.
REVIEW_STATUSES = ("pending", "violation", "false_positive", "escalated")
DECISIONS = ("violation", "false_positive", "escalated")  # what a moderator can decide ("pending" = reset)
ROLES = ("moderator", "admin")  # review accounts; the users table's check constraint holds the same
# A contact's status (store/contacts.py): "seller" = confirmed as a seller's (a known contact); the contacts
# table's check constraint (migration 0007) holds the same four.
CONTACT_STATUSES = ("new", "seller", "allowed", "escalated")
CONTACT_SORTS = ("shops", "images", "newest")  # the contacts page's orders: spread first
