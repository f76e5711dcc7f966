"""The review service: one auditor's review, below both doors (the Streamlit pages and the
command line), which keep no review state of their own.

    state.py       ReviewState: everything the screen shows, one immutable record
    session.py     ReviewSession: the transitions (each validated, then checked) and the opening rule
    invariants.py  what must hold after every transition; Screen, what every page draws
    world.py       where models, clips, timelines and explanations come from (shared caches)
    turns.py       WorkQueue: the server's long work one turn at a time, each session told its place
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {"ReviewSession": ".session", "open_review": ".session", "ReviewState": ".state", "Draft": ".state",
            "Held": ".state", "Screen": ".invariants", "violations": ".invariants", "World": ".world",
            "WorkQueue": ".turns"}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, namespace=globals())
