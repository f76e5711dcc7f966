"""The trust memo is shared by every session's thread on a server: served and filled from many
threads at once, with evictions, it never fails a lookup, and what it serves is what was computed."""

from __future__ import annotations

import sys
import threading

from crnnaudit.trust import memo as trust_memo


def test_many_threads_share_the_memo_while_it_evicts(monkeypatch):
    monkeypatch.setattr(trust_memo, "_MEMO_SIZE", 4)  # 16 keys through 4 places: evictions all the time
    monkeypatch.setattr(trust_memo, "_MEMO", type(trust_memo._MEMO)())
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: a lookup split by an eviction shows
    failures, wrong = [], []

    def hammer(seed: int) -> None:
        try:
            for i in range(20_000):
                k = (seed * 7 + i) % 16
                value = trust_memo.memo(("figure", k), lambda k=k: {"k": k})
                if value["k"] != k:
                    wrong.append((k, value))
                seen = trust_memo.known(("figure", k))
                if seen is not None and seen["k"] != k:
                    wrong.append((k, seen))
        except Exception as e:  # noqa: BLE001 - what the test reports
            failures.append(repr(e))
    try:
        threads = [threading.Thread(target=hammer, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not failures, failures[:3]
    assert not wrong, wrong[:3]
    assert len(trust_memo._MEMO) <= 4
