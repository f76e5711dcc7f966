"""Governance: what makes a review stand up afterwards. Nothing here imports TensorFlow, so
checking a log or a report starts in well under a second.

    log.py        the audit log: append-only, hash-chained under a key, anchored outside
    anchor.py     the log's key and its signed checkpoint, kept outside the database
    signing.py    seals of exported files (SHA-256, HMAC) and their verification
    accounts.py   local accounts (argon2id), roles and permissions, Identity
    retention.py  erasure on request and after the retention period; the record of processing
"""
