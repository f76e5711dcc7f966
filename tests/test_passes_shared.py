"""The compiled passes as a server's sessions share them: one set per model however many threads
ask at once, each pass built once, and the block passes kept for a bounded number of layouts
(a rebuilt layout gives the numbers the first one gave)."""

from __future__ import annotations

import threading
import time

import architectures as arch
import numpy as np

from crnnaudit import ModelCard
from crnnaudit.explainers import blocks
from crnnaudit.explainers import passes as passes_module
from crnnaudit.explainers.passes import CompiledPasses
from crnnaudit.model import AuditedModel

THREADS = 8


def _all_at_once(fn) -> list:
    """``fn()`` from THREADS threads released together; their results, or the first error."""
    barrier, results, errors = threading.Barrier(THREADS), [None] * THREADS, []

    def run(i):
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as e:  # noqa: BLE001 (reported below, with the thread's result)
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_sessions_asking_at_once_share_one_set_and_one_build_of_each_pass(monkeypatch):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    built, real_init, real_build = [], CompiledPasses.__init__, CompiledPasses._build_shared

    def slow_init(self, m):  # a constructor that takes a moment widens any window between look-up and store
        built.append("set")
        time.sleep(0.05)
        real_init(self, m)

    def slow_build(self, input_grad):
        built.append(("pass", input_grad))
        time.sleep(0.05)
        return real_build(self, input_grad)
    monkeypatch.setattr(CompiledPasses, "__init__", slow_init)
    monkeypatch.setattr(CompiledPasses, "_build_shared", slow_build)
    sets = _all_at_once(lambda: CompiledPasses.of(model))
    assert len({id(p) for p in sets}) == 1 and built == ["set"]
    passes = sets[0]
    fns = _all_at_once(lambda: passes.shared(True))
    assert len({id(f) for f in fns}) == 1 and built == ["set", ("pass", True)]
    heads = _all_at_once(passes.head_grad)
    assert len({id(f) for f in heads}) == 1


def test_block_layouts_are_bounded_and_a_rebuilt_one_gives_the_same_numbers(monkeypatch):
    monkeypatch.setattr(passes_module, "BLOCK_LAYOUTS", 3)
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    passes = CompiledPasses.of(model)
    x = model.prepare(np.random.default_rng(3).integers(0, 255, (16, 32, 32, 3), dtype=np.uint8))
    first = blocks.run_block(model, x, [0, 4, 8], -1)
    kept = passes.block((0, 4, 8))
    assert passes.block((0, 4, 8)) is kept
    for layout in [(0, 8), (0, 2, 8), (0, 1)]:  # three more layouts: the first one goes
        passes.block(layout)
    assert list(passes._block) == [(0, 8), (0, 2, 8), (0, 1)]
    passes.block((0, 8))  # used again: now the last to go
    passes.block((0, 4))
    assert list(passes._block) == [(0, 1), (0, 8), (0, 4)]
    again = blocks.run_block(model, x, [0, 4, 8], -1)
    assert passes.block((0, 4, 8)) is not kept and len(passes._block) == 3
    for a, b in zip(first, again):
        assert a.target == b.target
        np.testing.assert_allclose(a.logits, b.logits, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a.grad_input, b.grad_input, rtol=1e-5, atol=1e-7)
