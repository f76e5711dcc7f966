"""Fuzzing: mutated valid files (MP4, AVI, .keras, .h5, JSON and YAML cards) through the entry
points the app and the command line use. At least 2,000 cases in CI, seeded (so a failure
reproduces); ``benchmarks/bench_fuzz.py`` runs more with any seed.

Clips and cards are parsed in the server's own process, so there a case must end in success
or one of crnnaudit's errors, within the limit: no foreign exception, no crash, no hang.
Model files are parsed first in the sandbox (``crnnaudit.model.sandbox``), where a file
that loops a C library forever is refused by the sandbox's time limit: those are counted
and must be refused on time (``test_hostile.py`` runs one such file through the sandbox)."""

from __future__ import annotations

import pytest

from .fuzz import fuzz, make_seeds

pytestmark = pytest.mark.long  # the fuzzing: make test-long (CI runs it)

BUDGET = {"mp4": 700, "avi": 500, "json": 200, "yaml": 200, "keras": 200, "h5": 200}
SANDBOXED = {"keras", "h5"}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return make_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


def test_the_budget_is_at_least_2000_cases():
    assert sum(BUDGET.values()) >= 2000


@pytest.mark.parametrize("kind", list(BUDGET))
def test_mutated_files_end_in_a_verdict(kind, seeds):
    result = fuzz(kind, seeds[kind], BUDGET[kind], seed=20261127, limit_s=10.0 if kind in SANDBOXED else 30.0)
    assert result.cases == BUDGET[kind]
    assert result.counts["refused"] > 0 and result.counts["ok"] > 0  # the mutations bite, not all
    assert not result.foreign, result.foreign[:3]
    if kind not in SANDBOXED:
        assert not result.hangs, result.hangs[:3]
    else:  # loops inside HDF5: the sandbox's time limit refuses them (and not more than a few)
        assert len(result.hangs) <= BUDGET[kind] // 20, result.hangs


def test_a_mutation_is_reproducible():
    from .mutate import apply
    data = bytes(range(256)) * 4
    edits = [("flip", 3, 1), ("boundary", 10, b"\xff\xff\xff\xff"), ("duplicate", 100, 8), ("cut", 900, 0)]
    out = apply(data, edits)
    expected = bytearray(data)
    expected[3] ^= 2
    expected[10:14] = b"\xff\xff\xff\xff"
    expected[100:100] = expected[100:108]
    del expected[900:]
    assert out == bytes(expected)  # a hand-computed oracle of the four edits
