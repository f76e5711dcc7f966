"""The installation's signing key: Ed25519, so that anyone holding the public key can check
what it signed (log rows, checkpoints, reports, countersignatures) without any secret.

- **The private key** is a PEM file (``CRNNAUDIT_SIGNING_KEY_FILE``, default
  ``CRNNAUDIT_HOME/keys/signing.pem``, mode 600) or the PEM text itself in
  ``CRNNAUDIT_SIGNING_KEY``, which is how a secret store (Vault, a Kubernetes secret, a cloud
  secret manager) hands it to a process. Keep it off the data folder's disk in production: who
  holds it can sign. A missing key is an error: only ``crnnaudit keys init`` makes one (or the
  app's first start, when the first admin asks for it), so a deleted key is never replaced
  silently.
- **The public key** travels inside everything it signs; its **fingerprint** (the SHA-256 of
  its 32 raw bytes, in hex) is printed in every report. ``CRNNAUDIT_TRUSTED_KEYS`` pins the
  fingerprints a verifier trusts: set it, from a place the data folder's writers cannot
  change, and a log or report signed by any other key fails.
- **Rotation**: ``crnnaudit keys rotate`` makes a new key and announces it in the log by a row
  signed with the old one; a verifier that trusts the old key trusts the new one from there.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..config import home, setting
from ..errors import SigningKeyError
from ..limits import MAX_KEY_FILE_BYTES


def key_path() -> Path:
    """Where the private key is kept when it is not given as text."""
    return Path(setting("CRNNAUDIT_SIGNING_KEY_FILE") or home() / "keys" / "signing.pem").expanduser()


def fingerprint(public_b64: str) -> str:
    """The SHA-256 of a public key's raw bytes, in hex: how people name a key."""
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    """The private key and what is published of it."""

    private: Ed25519PrivateKey

    @property
    def public_b64(self) -> str:
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_b64)

    def sign(self, data: bytes) -> dict:
        """``{"public_key", "signature"}``: what a verifier needs besides the data."""
        return {"public_key": self.public_b64, "signature": base64.b64encode(self.private.sign(data)).decode()}


def load_signing_key() -> SigningKey:
    """The installation's key.

    Raises:
        SigningKeyError: no key (it is never made here), or not an Ed25519 PEM key.
    """
    text = setting("CRNNAUDIT_SIGNING_KEY")
    where = "CRNNAUDIT_SIGNING_KEY" if text else str(key_path())
    if not text:
        text = _read_key_file(key_path())
    try:
        private = serialization.load_pem_private_key(text.encode("ascii", "replace"), password=None)
    except (ValueError, TypeError) as e:
        raise SigningKeyError(f"{where}: not an unencrypted PEM private key ({e})") from e
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"{where}: the signing key must be Ed25519, not {type(private).__name__}")
    return SigningKey(private)


def _read_key_file(path: Path) -> str:
    """The key file's text: a regular file (never a pipe or a device: opened without blocking),
    at most :data:`~crnnaudit.limits.MAX_KEY_FILE_BYTES`, that neither group nor others may read
    or write (a private key anyone can read is no one's key)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no signing key. Nothing can be signed or logged without it; "
                              "`crnnaudit keys init` makes one for a new installation (a key that was "
                              "lost must be restored from its backup, not replaced)") from None
    except OSError as e:
        raise SigningKeyError(f"{path}: the signing key cannot be read ({e.strerror or e})") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SigningKeyError(f"{path}: the signing key is not a regular file")
        if os.name == "posix" and st.st_mode & 0o077:
            raise SigningKeyError(f"{path}: the signing key may be read or written by others (mode "
                                  f"{stat.S_IMODE(st.st_mode):03o}); make it its owner's alone: chmod 600 {path}")
        data = os.read(fd, MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"{path}: over {MAX_KEY_FILE_BYTES} bytes: not a signing key")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as e:
        raise SigningKeyError(f"{path}: the signing key is not PEM text ({e})") from e


def has_signing_key() -> bool:
    """Whether a key is configured (as text, or as a file that exists)."""
    return bool(setting("CRNNAUDIT_SIGNING_KEY")) or key_path().exists()


def init_key(path: Path | None = None) -> SigningKey:
    """Make a new key at ``path`` (default :func:`key_path`), mode 600; never over an existing one.

    Raises:
        SigningKeyError: a key is there already, or the file cannot be written.
    """
    path = Path(path) if path else key_path()
    key = SigningKey(Ed25519PrivateKey.generate())
    pem = key.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningKeyError(f"{path}: a signing key exists already; `crnnaudit keys rotate` replaces it "
                               "and announces the new one in the log") from None
    except OSError as e:
        raise SigningKeyError(f"{path}: cannot write the signing key ({e.strerror or e})") from e
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def verify(public_b64: str, signature_b64: str, data: bytes) -> bool:
    """Whether ``signature_b64`` is the signature of ``data`` by ``public_b64``; a malformed key
    or signature is simply not valid."""
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True)).verify(
            base64.b64decode(signature_b64, validate=True), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def trusted_fingerprints() -> set[str] | None:
    """The pinned fingerprints (``CRNNAUDIT_TRUSTED_KEYS``, separated by commas or spaces), or
    None when nothing is pinned."""
    text = setting("CRNNAUDIT_TRUSTED_KEYS")
    if not text:
        return None
    return {f.strip().lower() for f in text.replace(",", " ").split() if f.strip()}


#: The exit code of ``audit verify`` and ``report verify`` when everything checks but nothing
#: outside the data folder anchors it (no witness, no pinned key).
UNANCHORED_EXIT = 3
UNANCHORED = ("intact, but nothing rules out a rewind or a re-keying: no witness (CRNNAUDIT_WITNESS) / no pinned "
              "key (CRNNAUDIT_TRUSTED_KEYS); pass --accept-unanchored to accept that")


def anchors(with_witness: bool = True) -> list[str]:
    """What anchors the evidence outside the data folder in this deployment: a witness that keeps
    the checkpoints elsewhere, and keys pinned by fingerprint. Empty: whoever can write the data
    folder (and its key) can rewind the log or re-key the whole chain unnoticed."""
    out = []
    if with_witness and setting("CRNNAUDIT_WITNESS"):
        out.append("witness")
    if trusted_fingerprints() is not None:
        out.append("pinned key")
    return out


def trust_note(fp: str, trusted: set[str] | None) -> tuple[bool, str]:
    """Whether a key may be relied on here, and the words for it."""
    if trusted is None:
        return True, (f"key {fp[:16]}…, not pinned here (set CRNNAUDIT_TRUSTED_KEYS to the fingerprint your "
                      "organisation publishes, and a key swap is detected)")
    if fp in trusted:
        return True, f"key {fp[:16]}…, pinned in CRNNAUDIT_TRUSTED_KEYS"
    return False, f"key {fp[:16]}…, which is NOT among CRNNAUDIT_TRUSTED_KEYS: someone else's key"


def rotate_key(log, out: Path | None = None) -> tuple[SigningKey, SigningKey, dict]:
    """Make a new key and announce it in ``log`` by a row signed with the old one; the new key
    goes to ``out``, or replaces the key file: the old private key is removed, its public key
    kept beside it as ``*.retired-<fingerprint>.pub`` (for verifying old rows; the log names it
    too). Returns the old key, the new key and the row.

    Raises:
        SigningKeyError: no key to rotate from, a key given as text with no ``out`` (rotate it in
            the secret store), or ``out`` exists already.
    """
    old = load_signing_key()
    if setting("CRNNAUDIT_SIGNING_KEY") and out is None:
        raise SigningKeyError("the signing key comes from CRNNAUDIT_SIGNING_KEY: give --out NEW.pem, then put "
                              "the new key in your secret store")
    target = Path(out) if out else key_path()
    staged = target.with_name(target.name + ".new")
    new = init_key(staged if out is None else target)
    row = log.append({"action": "key rotated", "public_key": new.public_b64, "fingerprint": new.fingerprint,
                      "previous_fingerprint": old.fingerprint}, kind="key")  # signed with the old key
    if out is None:
        retired = target.with_name(f"{target.stem}.retired-{old.fingerprint[:16]}.pub")
        retired.write_bytes(old.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
        os.replace(staged, target)  # the old private key is gone: nothing can sign with it any more
    return old, new, row
