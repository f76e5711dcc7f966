"""What every command group shares: how a command signs in (``--as``), how it asks for a
password, how it shows progress, the model and window it names, and its argument types."""

from __future__ import annotations

import argparse
import sys
import time

from ..config import setting


def signed_in(username: str | None, permission: str, what: str, accounts=None):
    """The account the command runs as (``--as``): its password from CRNNAUDIT_PASSWORD or a
    prompt; refused unless its role allows ``permission``.

    Raises:
        AccessError: no ``--as``, a wrong password, a lock, or a role that may not.
    """
    from .. import Accounts
    from ..errors import AccessError
    if not username:
        raise AccessError(f"to {what}, name the account the command runs as: --as USER")
    password = setting("CRNNAUDIT_PASSWORD") or prompt(f"password for {username}: ", "CRNNAUDIT_PASSWORD")
    who = (accounts or Accounts()).authenticate(username, password, client=cli_client())
    who.require(permission, what)
    return who


def cli_client() -> str:
    """Who is at this command line, for sign-in throttling: the system user and host."""
    import getpass
    import os
    import socket
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"cli:{user}@{socket.gethostname()}"


def prompt(question: str, variable: str) -> str:
    """A password typed at the terminal; without a terminal, a message instead of a hang or a
    foreign exception."""
    import getpass
    from ..errors import AccessError
    if not sys.stdin or not sys.stdin.isatty():
        raise AccessError(f"no password: {variable} is empty and there is no terminal to ask on; set {variable}")
    return getpass.getpass(question)


def confirm_all(removed: int, total: int, what: str, yes: bool) -> None:
    """Purging everything asks first (or needs --yes); a purge of part goes on."""
    from ..errors import CrnnauditError
    if not total or removed < total or yes:
        return
    if sys.stdin and sys.stdin.isatty():
        if input(f"This erases all {total} {what}. Type 'yes' to go on: ").strip() == "yes":
            return
        raise CrnnauditError("nothing erased")
    raise CrnnauditError(f"this would erase all {total} {what}: confirm with --yes")


class Progress:
    """Progress on standard error: a bar redrawn in place on a terminal; otherwise one line per
    update (at most one a second, and the last), so a log file reads line by line. Each
    update says how much is done and, once measurable, the time left."""

    def __init__(self, label: str, unit: str = "", stream=None):
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self.last = -1.0

    def line(self, done: int, total: int) -> str:
        spent = time.monotonic() - self.t0
        left = spent / done * (total - done) if done else None
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.label}: {done}/{total}{unit}"
        if left is not None and done < total:
            text += f", about {_duration(left)} left"
        elif done >= total:
            text += f", done in {_duration(spent)}"
        return text

    def __call__(self, done: int, total: int, *_) -> None:
        now = time.monotonic()
        if self.tty:
            bar = "#" * round(24 * done / max(total, 1))
            end = "\n" if done >= total else ""
            print(f"\r[{bar:<24}] {self.line(done, total)}\x1b[K", end=end, file=self.stream, flush=True)
        elif done >= total or now - self.last >= 1.0:
            self.last = now
            print(self.line(done, total), file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min"


def load(args, evidence: bool = False):
    """The model the command names; one whose output is signed or logged must come from where
    models may come (:mod:`crnnaudit.model.places`). A registry URI is resolved and pinned here,
    once, and the command uses that version throughout."""
    from .. import allowed_model, load_model, locate_model
    path = allowed_model(args.model) if evidence else locate_model(args.model)
    return load_model(path, card=getattr(args, "card", None))


def window_number(choice: str) -> int:
    """``--window``'s number.

    Raises:
        ReviewError: not a whole number (``auto`` is handled before).
    """
    from ..errors import ReviewError
    try:
        return int(choice)
    except ValueError:
        raise ReviewError(f"--window must be 'auto' or a window number, got {choice!r}") from None


def window_for(model, clip, choice: str):
    """The window ``--window`` names: ``auto`` (the most anomalous, after scoring the clip) or
    a number (of the clip as the model sees it, at its card's frame rate). Returns ``(window,
    timeline or None)``."""
    from ..errors import ExplanationError
    clip = model.sampled(clip)
    if choice == "auto":
        timeline = model.score(clip, progress=Progress("scoring", "windows"))
        return clip.window(timeline.top_window(), model.window_length, model.card.stride, model.frame_size), timeline
    try:
        k = int(choice)
    except ValueError:
        raise ExplanationError(f"--window must be 'auto' or a window number, got {choice!r}") from None
    return clip.window(k, model.window_length, model.card.stride, model.frame_size), None


def positive_int(text: str) -> int:
    """An argument type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def add_as(parser, role: str, note: str = "") -> None:
    """The ``--as USER`` option of a command that signs, logs or administers."""
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help=f"the account this runs as: {role} or above{note} (password: CRNNAUDIT_PASSWORD or "
                             "a prompt)")


def add_model(parser, card: bool = True) -> None:
    """The MODEL argument (and ``--card``) of a command that reads a model."""
    parser.add_argument("model", help="the model: a file (.keras or .h5), or models:/NAME@ALIAS or "
                        "models:/NAME/VERSION from the MLflow registry at MLFLOW_TRACKING_URI (resolved once, "
                        "when the command starts)")
    if card:
        parser.add_argument("--card", help="the model card (default: MODEL.card.json or .yaml beside the model)")
