"""The installation's Ed25519 signing key: ``keys init | show | rotate``."""

from __future__ import annotations

from pathlib import Path

from .common import add_as, signed_in


def cmd_keys(args) -> int:
    from .. import init_signing_key, load_signing_key, rotate_signing_key, signing_key_path
    if args.verb == "init":
        key = init_signing_key(args.out)
        print(f"signing key made: {args.out or signing_key_path()} (Ed25519, mode 600)\nfingerprint: {key.fingerprint}\n"
              "Back the key up somewhere safe, publish the fingerprint, and pin it where reports and logs are "
              "checked: CRNNAUDIT_TRUSTED_KEYS=" + key.fingerprint)
        return 0
    if args.verb == "show":
        key = load_signing_key()
        print(f"fingerprint: {key.fingerprint}\npublic key (Ed25519, base64): {key.public_b64}")
        return 0
    from .. import AuditLog
    signed_in(args.as_user, "manage_accounts", "rotate the signing key")
    old, new, row = rotate_signing_key(AuditLog(), args.out)
    print(f"new signing key {new.fingerprint}, announced in audit log row {row['seq']} signed by the old key "
          f"{old.fingerprint}" + (f"; written to {args.out}: install it in your secret store" if args.out else ""))
    return 0


def add_commands(sub) -> None:
    """keys init | show | rotate."""
    group = sub.add_parser("keys", help="the installation's Ed25519 signing key")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="{init,show,rotate}", parser_class=type(group))
    s = verbs.add_parser("init", help="make the signing key of a new installation (never replaces one)")
    s.add_argument("--out", type=Path, help="where to write it (default: CRNNAUDIT_SIGNING_KEY_FILE, else "
                                            "CRNNAUDIT_HOME/keys/signing.pem)")
    s.set_defaults(fn=cmd_keys)
    s = verbs.add_parser("show", help="the key's fingerprint and public key (what verifiers pin)")
    s.set_defaults(fn=cmd_keys)
    s = verbs.add_parser("rotate", help="a new key, announced in the log by a row the old key signs (admin)")
    s.add_argument("--out", type=Path, help="where to write the new key (with CRNNAUDIT_SIGNING_KEY: for your "
                                            "secret store)")
    add_as(s, "admin")
    s.set_defaults(fn=cmd_keys)
