"""Where a dataset run's clips are processed: one interface, one driver.

:func:`run_batch` is the only driver. It lists the clips, checks the options, hands a
:class:`Job` to the executor named, reports progress from the :class:`Outcome` each clip yields,
and gathers the run's tables (:func:`~.runner.gather`). Every executor runs the same per-clip
work (:class:`~.runner.ClipProcessor`), so the records are the same whichever ran them.

    local   this process, one clip after another
    ray     a Ray Data pipeline of model-holding actors (:mod:`.ray_executor`)

**Adding an executor** (Dask, Spark, a job queue) is one file: a subclass of :class:`Executor`
with a ``name`` and a ``run(job)`` that yields one :class:`Outcome` per clip, each clip handed
to ``job.processor(job.load_model())`` wherever it runs, plus one line in :data:`EXECUTORS`.
"""

from __future__ import annotations

import importlib
import os
import resource
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Iterator

from ..config import crnnaudit_environment
from ..errors import CrnnauditError

# The runner (pandas, the model) is imported where it is used: the command line reads
# EXECUTORS while building its parser, which must stay quick.

#: Executor name -> "module:Class", imported only when chosen (Ray is heavy to import).
EXECUTORS = {"local": "crnnaudit.dataset.executors:LocalExecutor",
           "ray": "crnnaudit.dataset.ray_executor:RayExecutor"}


MEASURED_CLIPS = 48  # about this many clips per run get each method's evidence measured (sampled by hash)


@dataclass(frozen=True)
class Job:
    """Everything an executor needs, and nothing executor-specific.

    Attributes:
        model: the model file (each worker loads it as the app does: sandbox, card, feature
            statistics) or, for an executor that runs in this process, an AuditedModel.
        card: the card file beside the model file to use instead of its sidecar.
        clips: the clip files, each once.
        out: the run folder (reachable under the same path from every worker).
        labels: clip file name -> label.
        explain, methods: which windows to explain, and how (see :class:`ClipProcessor`).
        env: the driver's ``CRNNAUDIT_*`` settings, for workers in other processes.
    """

    model: object
    card: str | None
    clips: tuple[str, ...]
    out: Path
    labels: dict
    explain: str
    methods: tuple[str, ...] | None
    env: dict = field(default_factory=dict)

    def model_path(self, executor: str) -> str:
        if not isinstance(self.model, (str, Path)):
            raise CrnnauditError(f"the {executor} executor loads the model in each of its workers: give the "
                                 "model's file, not a model held in memory")
        return str(Path(self.model).resolve())

    def load_model(self):
        """The job's model, loaded here when it is a file."""
        if isinstance(self.model, (str, Path)):
            from ..model import load_model
            return load_model(self.model, card=self.card)
        return self.model

    def processor(self, model):
        """The per-clip work (:class:`~.runner.ClipProcessor`) for ``model``."""
        from .runner import ClipProcessor
        return ClipProcessor(model, self.out, self.labels, self.explain, self.methods,
                             measure_every=max(1, -(-len(self.clips) // MEASURED_CLIPS)))


@dataclass(frozen=True)
class Outcome:
    """One clip, done: whether it was processed now (False: its record existed), by which
    worker, and that worker's peak resident memory so far."""

    path: str
    done_now: bool
    worker: str
    peak_rss_mb: float


class Executor(ABC):
    """A way to run :class:`~.runner.ClipProcessor` over a job's clips.

    Args:
        workers: how many workers (each holds the model); ``None``: the executor's default.
        address: where the executor's cluster is (``None``: start one here), if it has one.
        threads: TensorFlow intra-op threads per worker; 0 leaves TensorFlow's choice.
    """

    name: ClassVar[str]

    def __init__(self, workers: int | None = None, address: str | None = None, threads: int = 0):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise CrnnauditError(f"--workers must be a whole number >= 1, got {workers!r}")
        self.workers, self.address, self.threads = workers, address, int(threads)

    @abstractmethod
    def run(self, job: Job) -> Iterator[Outcome]:
        """Process every clip of ``job``, yielding one outcome per clip as it finishes."""

    def describe(self) -> dict:
        """What the run's summary records about the executor (beyond its name and workers)."""
        return {}


class LocalExecutor(Executor):
    """This process, one clip after another."""

    name = "local"

    def run(self, job: Job) -> Iterator[Outcome]:
        if self.workers not in (None, 1) or self.address:
            raise CrnnauditError("the local executor runs in this process: --workers and --address are "
                                 "for an executor with workers (--executor ray)")
        process = job.processor(job.load_model())
        for path in job.clips:
            yield Outcome(path, bool(process(path)), str(os.getpid()), peak_rss_mb())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def executor_named(name: str, **options) -> Executor:
    """The executor called ``name`` (see :data:`EXECUTORS`), built with ``options``."""
    if name not in EXECUTORS:
        raise CrnnauditError(f"unknown executor {name!r}; executors: {', '.join(EXECUTORS)}")
    module, cls = EXECUTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)


def _tag_version(pin: dict, out: Path, summary: dict) -> str:
    """With ``CRNNAUDIT_REGISTRY_TAGS=1``, the sealed run and its accuracy (with its 95% Wilson
    interval) as tags on the registry version it ran; the run stands whatever the registry answers."""
    from ..errors import RegistryError
    from ..model.registry import write_tags
    tags = {"crnnaudit.last_run": out.name}
    matrix = summary.get("confusion_matrix")
    if matrix:
        from .instructions import proportion
        n = sum(sum(row.values()) for row in matrix.values())
        p = proportion(sum(matrix[c][c] for c in matrix), n)
        tags["crnnaudit.accuracy"] = f"{p['rate']:.3f} (95% CI {p['low']:.3f}-{p['high']:.3f}, {n} labelled clips)"
    try:
        return "written" if write_tags(pin, tags) else "off (CRNNAUDIT_REGISTRY_TAGS)"
    except RegistryError as e:
        return f"not written: {e}"


def run_batch(model, sources: Iterable[str], out: str | Path, *, executor: str = "local", workers: int | None = None,
              address: str | None = None, threads: int = 0, card: str | None = None,
              labels: str | Path | None = None, explain: str = "none", methods: Iterable[str] | None = None,
              progress: Callable[[int, int, float], None] | None = None, by: str | None = None) -> dict:
    """Score (and explain) every clip of ``sources`` into the run folder ``out``; the one
    driver of every executor. Clips already recorded (by content) are skipped; a clip that
    cannot be read is recorded with its error and the run goes on.

    Args:
        model: the model file, or (local executor only) an AuditedModel.
        sources: folders (searched recursively), globs or clip files.
        executor: a name in :data:`EXECUTORS`; ``workers``, ``address`` and ``threads`` go to it.
        labels: a CSV with columns ``clip`` and ``label`` (else ``<clip>.truth.json``).
        explain: ``none``, ``flagged`` (windows over the threshold) or ``all``.
        progress: ``progress(done, total, clips_per_second)`` after each clip.
        by: who ran it (the signed-in account); the run's seal and its log row name them.

    Returns:
        The run's summary (``RUN/summary.json``) with ``scored_this_run``, ``executor`` and
        ``workers`` (each worker's peak resident memory).

    Raises:
        CrnnauditError: no clip, an unknown executor, mode or method, or options the executor
            cannot take.
    """
    from .runner import ClipProcessor, RunModel, expand_sources, gather, read_labels
    runner = executor_named(executor, workers=workers, address=address, threads=threads)
    if isinstance(model, (str, Path)):  # a registry URI: resolved once, one version for the whole run
        from ..model.places import locate
        model = str(locate(model))
    clips = tuple(str(p) for p in expand_sources(sources))
    ClipProcessor.check_options(explain, methods)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    job = Job(model, card, clips, out, read_labels(labels), explain, tuple(methods) if methods else None,
              crnnaudit_environment())
    t0, seen, done_now, per_worker = time.perf_counter(), 0, 0, {}
    for outcome in runner.run(job):
        seen += 1
        done_now += outcome.done_now
        per_worker[outcome.worker] = max(per_worker.get(outcome.worker, 0.0), outcome.peak_rss_mb)
        if progress:
            progress(seen, len(clips), done_now / max(time.perf_counter() - t0, 1e-9))
    run_model = RunModel(out)
    summary = gather(out, run_model)  # model.json: written by whichever worker loaded the model
    from .seal import seal_run
    sealed = seal_run(out, summary, by=by)  # signed and logged: what is built from the run checks it first
    tags = _tag_version(run_model.registry, out, summary) if run_model.registry else None
    return dict(summary, scored_this_run=done_now, executor=runner.name, sealed_log_row=sealed["seq"],
                **({"registry_tags": tags} if tags else {}),
                **runner.describe(),
                workers={w: {"peak_rss_mb": round(v, 1)} for w, v in per_worker.items()})
