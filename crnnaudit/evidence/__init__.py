"""Governance: what makes a review stand up afterwards. Nothing here imports TensorFlow, so
checking a log or a report starts in well under a second.

    keys.py       the installation's Ed25519 signing key: init, rotation, pinned fingerprints
    chain.py      the log's rules: hashes, links, signatures, the key in force (no storage)
    store.py      where the rows live: a database whose write lock crnnaudit knows
    log.py        the audit log: append-only, signed, checkpointed, witnessed
    anchor.py     the signed checkpoint outside the database
    witness.py    a second store outside the data folder that keeps every checkpoint
    signing.py    seals of exported files (SHA-256, Ed25519) and countersignatures; verification
    accounts.py   local accounts (argon2id), roles, permissions, sign-in throttling, Identity
    retention.py  erasure on request and after the retention period; the record of processing
"""
