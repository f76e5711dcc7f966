"""Turns at the server's long work: scoring, explaining, the trust figures, reports.

A server on a few cores runs one piece of long work at a time (``CRNNAUDIT_WORK_SLOTS``, default
1: TensorFlow already uses every core for one), first come, first served, whichever session asks.
While a session waits, its ``progress`` is told its place in the queue and about how long before
its work starts: what the work running now has left (from its own progress) and what the work
ahead of it took on this server before (the mean of the last few of the same kind). A waiting
session that leaves (Cancel, a rerun, a closed tab: an exception in its thread) leaves the
queue; a work that fails or is cancelled frees its slot.

A thread that holds a turn and asks again (work inside work) goes on at once: one turn per
piece of work the reviewer asked for, never a queue behind itself. When the last piece of work
ends and none waits, ``on_idle`` runs (the server hands freed memory back: :mod:`.memory`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import Cancelled

HISTORY = 5  # the last durations of each kind of work an estimate averages
POLL_S = 1.0  # how often a waiting session is told where it stands


@dataclass(eq=False)
class Turn:
    """One piece of long work in the queue (waiting, then running)."""
    what: str
    kind: str
    owner: str = ""
    started: float | None = None
    share: float = 0.0  # of the work done, as its own progress says
    progress: Callable | None = field(default=None, repr=False)

    def report(self, done: float, total: float, *rest) -> None:
        """The work's own progress: recorded (for the estimates of those waiting) and passed on."""
        self.share = min(1.0, max(0.0, done / total)) if total else 0.0
        if self.progress:
            self.progress(done, total, *rest)


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


class WorkQueue:
    """First come, first served turns at ``slots`` pieces of long work at once."""

    def __init__(self, slots: int = 1, clock: Callable[[], float] = time.monotonic, poll_s: float = POLL_S,
                 on_idle: Callable[[], object] | None = None):
        if slots < 1:
            raise ValueError("a work queue needs at least one slot")
        self.slots, self.clock, self.poll_s, self.on_idle = slots, clock, poll_s, on_idle
        self._cond = threading.Condition()
        self._waiting: list[Turn] = []
        self._running: list[Turn] = []
        self._took: dict[str, deque] = {}
        self._held = threading.local()

    # --- what a session sees ------------------------------------------------------------
    def where(self, turn: Turn) -> tuple[int, int, float | None]:
        """``(place, ahead, seconds)``: the turn's place among those waiting (1: next), how many
        pieces of work are ahead of it (running or waiting), and about how long before it starts
        (``None`` while some work ahead has no duration to go by)."""
        with self._cond:
            return self._where(turn)

    def status(self) -> dict:
        """What the queue holds now: the work running and waiting, by owner and kind."""
        with self._cond:
            return {"slots": self.slots, "running": [(t.owner, t.kind, t.what) for t in self._running],
                    "waiting": [(t.owner, t.kind, t.what) for t in self._waiting]}

    def idle(self) -> bool:
        """Whether no work runs or waits."""
        with self._cond:
            return not self._running and not self._waiting

    def estimate(self, kind: str) -> float | None:
        """The mean of the last :data:`HISTORY` durations of ``kind`` on this server (``None``: none yet)."""
        with self._cond:
            return self._mean(kind)

    def _mean(self, kind: str) -> float | None:
        took = self._took.get(kind)
        return sum(took) / len(took) if took else None

    def _where(self, turn: Turn) -> tuple[int, int, float | None]:
        place = self._waiting.index(turn) + 1
        now, seconds = self.clock(), []
        for t in self._running:  # by its own pace once it has said some, else by what its kind took
            spent = now - (t.started or now)
            mean = self._mean(t.kind)
            seconds.append(spent / t.share * (1 - t.share) if t.share > 0.02 else
                           None if mean is None else max(0.0, mean - spent))
        ahead = [self._mean(t.kind) for t in self._waiting[:place - 1]]
        if None in seconds or None in ahead:
            return place, place - 1 + len(self._running), None
        # slots run side by side: the work ahead is shared among them (the soonest slot frees first)
        wait = (min(seconds) if len(seconds) >= self.slots else 0.0) + sum(ahead) / self.slots
        return place, place - 1 + len(self._running), wait

    def waiting_words(self, turn: Turn) -> str:
        """Where ``turn`` stands, in the words its session's bar shows."""
        place, ahead, seconds = self.where(turn)
        when = (f"about {seconds:.0f} s before it starts" if seconds is not None
                else "the time is not known yet (no such work has finished on this server)")
        return (f"waiting for the server: {ordinal(place)} in the queue, {ahead} piece{'s' * (ahead != 1)} of "
                f"work ahead; {when}")

    # --- taking a turn --------------------------------------------------------------------
    @contextmanager
    def turn(self, what: str, kind: str, progress: Callable | None = None, cancel: Callable | None = None,
             owner: str = "") -> Iterator[Turn]:
        """Wait for a slot (telling ``progress(0, 1, words)`` where this work stands every
        :data:`POLL_S`), then hold it while the block runs. The block reports its own progress
        through the turn (``turn.report``), which passes it on to ``progress``.

        Raises:
            Cancelled: ``cancel()`` said so while waiting (the work never started).
        """
        if getattr(self._held, "turn", None) is not None:  # work inside work: the turn already held
            yield self._held.turn
            return
        turn = Turn(what, kind, owner, progress=progress)
        with self._cond:
            self._waiting.append(turn)
        try:
            self._wait(turn, cancel)
        except BaseException:
            with self._cond:
                self._waiting.remove(turn)
                self._cond.notify_all()
            raise
        self._held.turn = turn
        failed = True
        try:
            yield turn
            failed = False
        finally:
            self._held.turn = None
            with self._cond:
                self._running.remove(turn)
                if not failed:  # a failed or cancelled work says nothing of how long the kind takes
                    self._took.setdefault(kind, deque(maxlen=HISTORY)).append(self.clock() - turn.started)
                idle = not self._running and not self._waiting
                self._cond.notify_all()
            if idle and self.on_idle is not None:  # outside the lock: the next work need not wait for it
                self.on_idle()

    def _ready(self, turn: Turn) -> bool:
        return self._waiting.index(turn) < self.slots - len(self._running)

    def _wait(self, turn: Turn, cancel: Callable | None) -> None:
        while True:
            with self._cond:
                if self._ready(turn):
                    self._waiting.remove(turn)
                    turn.started = self.clock()
                    self._running.append(turn)
                    return
            if cancel is not None and cancel():
                raise Cancelled(f"{turn.what}: cancelled while waiting for the server")
            if turn.progress:
                turn.progress(0, 1, self.waiting_words(turn))
            with self._cond:
                self._cond.wait_for(lambda: self._ready(turn), timeout=self.poll_s)
