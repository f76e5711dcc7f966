"""The server's work queue (crnnaudit/review/turns.py): first come, first served, each waiting
session told its place and the time left, a slot freed whichever way the work ends. Real
threads; a clock the test moves, so that every estimate is checked by hand."""

import threading
import time

import pytest

from crnnaudit.errors import Cancelled
from crnnaudit.review import WorkQueue
from crnnaudit.review.turns import ordinal


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


class Worker(threading.Thread):
    """A session asking for a turn; it holds the turn until ``release`` is set."""

    def __init__(self, queue, name, kind="explain", progress=True, cancel=None, fail=False):
        super().__init__(daemon=True)
        self.queue, self.name_, self.kind, self.cancel, self.fail = queue, name, kind, cancel, fail
        self.started, self.release, self.said, self.error = threading.Event(), threading.Event(), [], None
        self.progress = (lambda done, total, what=None: self.said.append(what)) if progress else None

    def run(self):
        try:
            with self.queue.turn(self.name_, self.kind, self.progress, self.cancel, owner=self.name_) as turn:
                self.turn = turn
                self.started.set()
                self.release.wait(10)
                if self.fail:
                    raise RuntimeError("the work failed")
        except BaseException as e:  # noqa: BLE001 - the test reads it
            self.error = e


def test_turns_go_first_come_first_served_and_each_waiting_session_is_told_its_place():
    clock = Clock()
    q = WorkQueue(slots=1, clock=clock, poll_s=0.02)
    order = []
    a = Worker(q, "a")
    a.start()
    a.started.wait(5)
    waiting = []
    for name in ("b", "c", "d"):
        w = Worker(q, name)
        w.start()
        _until(lambda: len(q.status()["waiting"]) == len(waiting) + 1)
        waiting.append(w)
    assert [o for o, _, _ in q.status()["waiting"]] == ["b", "c", "d"]
    _until(lambda: all(w.said for w in waiting))
    for place, w in enumerate(waiting, start=1):
        assert w.said[-1].startswith(f"waiting for the server: {ordinal(place)} in the queue, {place} piece")
        assert "time is not known yet" in w.said[-1]  # nothing of the kind has finished here
        assert not w.started.is_set()
    for w in [a, *waiting]:  # each released in turn: the next starts, no other
        w.release.set()
        w.join(5)
        order.append(w.name_)
        rest = [x for x in waiting if x.name_ not in order]
        if rest:
            rest[0].started.wait(5)
            assert [x.started.is_set() for x in rest] == [True] + [False] * (len(rest) - 1)
    assert order == ["a", "b", "c", "d"] and q.status() == {"slots": 1, "running": [], "waiting": []}


def test_the_time_left_is_what_the_running_work_has_left_and_what_the_work_ahead_took():
    clock = Clock()
    q = WorkQueue(slots=1, clock=clock, poll_s=0.02)
    for took in (10.0, 20.0):  # two explanations finished: 15 s on average
        with q.turn("x", "explain"):
            clock.now += took
    with q.turn("s", "score"):
        clock.now += 40.0
    assert q.estimate("explain") == 15.0 and q.estimate("score") == 40.0 and q.estimate("report") is None
    a = Worker(q, "a", kind="score")
    a.start()
    a.started.wait(5)
    b, c = Worker(q, "b", kind="explain"), Worker(q, "c", kind="explain")
    b.start()
    _until(lambda: len(q.status()["waiting"]) == 1)
    c.start()
    _until(lambda: len(q.status()["waiting"]) == 2)
    tb, tc = q._waiting[0], q._waiting[1]
    clock.now += 10.0  # the scoring has run 10 s and said nothing: 40 - 10 = 30 s left by its kind
    assert q.where(tb) == (1, 1, 30.0) and q.where(tc) == (2, 2, 45.0)
    a.turn.report(1, 4)  # it says a quarter is done after 10 s: 30 s left by its own pace
    clock.now += 0.0
    assert q.where(tb)[2] == pytest.approx(30.0)
    a.turn.report(1, 2)  # half done after 10 s: 10 s left
    assert q.where(tb)[2] == pytest.approx(10.0) and q.where(tc)[2] == pytest.approx(25.0)
    _until(lambda: c.said and "about 25 s before it starts" in c.said[-1])
    assert "2nd in the queue, 2 pieces of work ahead; about 25 s before it starts" in c.said[-1]
    for w in (a, b, c):
        w.release.set()
        w.join(5)


def test_a_session_that_leaves_the_queue_or_fails_frees_its_place():
    q = WorkQueue(slots=1, poll_s=0.02)
    a = Worker(q, "a")
    a.start()
    a.started.wait(5)
    leave = threading.Event()
    b = Worker(q, "b", cancel=leave.is_set)  # Cancel while waiting: it never starts
    b.start()
    c = Worker(q, "c", progress=False)
    _until(lambda: len(q.status()["waiting"]) == 1)
    c.start()
    _until(lambda: len(q.status()["waiting"]) == 2)
    leave.set()
    b.join(5)
    assert isinstance(b.error, Cancelled) and "cancelled while waiting" in str(b.error)
    assert [o for o, _, _ in q.status()["waiting"]] == ["c"]

    def gone(done, total, what=None):  # a rerun or a closed tab: the page's call raises in the waiting thread
        raise KeyboardInterrupt("the script run stopped")
    d = Worker(q, "d")
    d.progress = gone
    d.start()
    d.join(5)
    assert isinstance(d.error, KeyboardInterrupt) and [o for o, _, _ in q.status()["waiting"]] == ["c"]
    a.fail = True  # the running work fails: its slot is freed, its duration not learnt
    a.release.set()
    a.join(5)
    assert isinstance(a.error, RuntimeError)
    c.started.wait(5)
    assert q.estimate("explain") is None
    c.release.set()
    c.join(5)
    assert c.error is None and q.estimate("explain") is not None


def test_work_inside_work_keeps_its_turn_and_two_slots_run_two_at_once():
    q = WorkQueue(slots=1, poll_s=0.02)
    with q.turn("outer", "report") as outer:
        with q.turn("inner", "explain") as inner:  # would wait for itself forever without the rule
            assert inner is outer
    assert q.estimate("report") is not None and q.estimate("explain") is None
    q2 = WorkQueue(slots=2, poll_s=0.02)
    a, b, c = (Worker(q2, n) for n in "abc")
    a.start()
    b.start()
    assert a.started.wait(5) and b.started.wait(5)
    c.start()
    _until(lambda: len(q2.status()["waiting"]) == 1)
    assert not c.started.is_set() and len(q2.status()["running"]) == 2
    b.release.set()
    assert c.started.wait(5)
    for w in (a, c):
        w.release.set()
        w.join(5)
    with pytest.raises(ValueError):
        WorkQueue(slots=0)


def test_the_setting_is_read_and_checked(monkeypatch):
    from crnnaudit.errors import CrnnauditError
    from crnnaudit.review import World
    monkeypatch.setenv("CRNNAUDIT_WORK_SLOTS", "3")
    assert World().queue.slots == 3
    for bad in ("0", "1.5", "many"):
        monkeypatch.setenv("CRNNAUDIT_WORK_SLOTS", bad)
        with pytest.raises(CrnnauditError, match="CRNNAUDIT_WORK_SLOTS"):
            World()
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]


def test_the_idle_hook_runs_once_the_last_work_ends_and_none_waits():
    idle = []
    q = WorkQueue(slots=1, poll_s=0.02, on_idle=lambda: idle.append(q.status()))
    a, b = Worker(q, "a"), Worker(q, "b", fail=True)
    a.start()
    a.started.wait(5)
    b.start()
    _until(lambda: len(q.status()["waiting"]) == 1)
    a.release.set()  # b still waits: the server is not idle yet
    assert b.started.wait(5) and idle == []
    b.release.set()  # the last work fails: the queue is idle all the same
    b.join(5)
    assert isinstance(b.error, RuntimeError)
    assert idle == [{"slots": 1, "running": [], "waiting": []}]
    with q.turn("outer", "report"):
        with q.turn("inner", "explain"):  # work inside work is one piece of work
            pass
        assert len(idle) == 1
    assert len(idle) == 2


def test_the_memory_setting_is_read_and_checked(monkeypatch):
    from crnnaudit.errors import CrnnauditError
    from crnnaudit.review.memory import give_back
    from crnnaudit.review import World
    monkeypatch.delenv("CRNNAUDIT_MEMORY", raising=False)
    assert World().queue.on_idle is None  # pooled, the default: nothing to hand back
    monkeypatch.setenv("CRNNAUDIT_MEMORY", "released")
    assert World().queue.on_idle is give_back
    monkeypatch.setenv("CRNNAUDIT_MEMORY", "freed")
    with pytest.raises(CrnnauditError, match="CRNNAUDIT_MEMORY must be one of pooled, released, got 'freed'"):
        World()


def test_an_idle_server_keeps_handing_memory_back_and_stops_with_its_queue(monkeypatch):
    import gc

    from crnnaudit.review import memory
    calls = []
    monkeypatch.setattr(memory, "give_back", lambda: calls.append(time.monotonic()))
    q = WorkQueue(slots=1, poll_s=0.02)
    with q.turn("long work", "explain"):
        assert not q.idle()
        thread = memory.keep_handing_back(q, every_s=0.02)
        time.sleep(0.2)
        assert calls == []  # never while work runs
    _until(lambda: len(calls) >= 2)
    assert q.idle()
    del q
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()  # the queue gone, the thread ends
