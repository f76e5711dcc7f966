"""The Ray engine of dataset audits: a Ray Data pipeline over clip paths, model-holding actors.

``crnnaudit batch MODEL SOURCE... --engine ray [--address ADDR] [--workers N]``. The driver
lists the clips (paths only: it reads no clip) and hands them to ``map_batches`` with an
actor pool of ``N`` :class:`ClipWorker` s. Each actor loads the model once (the same
:func:`~crnnaudit.load_model` as the app: the sandbox check, the card, the feature
statistics) and runs :class:`~crnnaudit.dataset.runner.ClipProcessor` on each clip it is given: it
reads the clip by path, hashes it, skips it when its record exists, and writes the record,
the explained windows and the explanation cache entries itself. The run folder and the clips
must therefore be reachable under the same paths from every node (a shared file system), as
Ray Data's own file sources expect. When the cluster has GPUs each actor asks for one
(``num_gpus=1``); TensorFlow then places the model on it.

Without ``--address`` a local Ray is started with ``N`` CPUs (or joined, if this process has
one already); with it, ``ray.init(address=...)`` joins an existing cluster (``auto``, or
``ray://host:10001`` for a KubeRay head service).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable, Iterable

from .runner import ClipProcessor, RunModel, expand_sources, gather, read_labels
from ..errors import CrnnauditError


class ClipWorker:
    """A Ray Data actor: one model, loaded once, for every batch of clip paths it is given."""

    def __init__(self, model_path: str, card_path: str | None, out: str, labels: dict, explain: str,
                 methods: list[str] | None, threads: int, env: dict[str, str]):
        os.environ.update(env)  # the driver's CRNNAUDIT_* settings: data folder, limits, models
        import tensorflow as tf
        if threads:  # a cap asked for explicitly (TensorFlow's own choice was the fastest measured)
            tf.config.threading.set_intra_op_parallelism_threads(threads)
        from ..model import load_model
        self.model = load_model(model_path, card=card_path)
        self.process = ClipProcessor(self.model, out, labels, explain, methods)
        self.pid = os.getpid()

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        from ..video import sha256_file
        shas, done = [], []
        for path in batch["path"]:
            sha = sha256_file(path) if Path(path).is_file() else ""
            done.append(bool(self.process(path, sha or None)))
            shas.append(sha)
        return {"path": np.asarray(batch["path"]), "sha256": np.asarray(shas), "done_now": np.asarray(done),
                "worker": np.full(len(done), self.pid), "peak_rss_mb": np.full(len(done), _peak_rss_mb())}


def _peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def connect(address: str | None, workers: int) -> None:
    """Join the Ray at ``address``, or start (or reuse) a local one with ``workers`` CPUs."""
    import ray
    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise CrnnauditError(f"Ray at {address or 'a new local instance'}: cannot connect ({e})") from e


def run_batch_ray(model_path: str | Path, sources: Iterable[str], out: str | Path, *, card: str | None = None,
                  labels: str | Path | None = None, explain: str = "none", methods: Iterable[str] | None = None,
                  address: str | None = None, workers: int = 2, threads: int = 0,
                  progress: Callable[[int, int, float], None] | None = None) -> dict:
    """The Ray engine (see the module). Returns the run's summary, as the local engine does,
    plus ``workers`` (the actors' process ids and peak resident memory).

    Args:
        threads: TensorFlow intra-op threads per actor; 0 leaves TensorFlow's own choice,
            which was the fastest measured (a cap of 2 on 2 cores took 1.7x as long).
    """
    import ray
    if workers < 1:
        raise CrnnauditError(f"--workers must be at least 1, got {workers}")
    clips = [str(p) for p in expand_sources(sources)]
    model_path = str(Path(model_path).resolve())
    out = Path(out).resolve()
    ClipProcessor.check_options(explain, methods)
    out.mkdir(parents=True, exist_ok=True)
    connect(address, workers)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command prints its own: clips/s and time left
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus and workers > gpus:
        raise CrnnauditError(f"--workers {workers}: the Ray cluster has {gpus} GPU(s) and each actor takes one; "
                             f"use --workers {gpus} or fewer")
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
    ds = ray.data.from_items([{"path": p} for p in clips], override_num_blocks=len(clips)).map_batches(
        ClipWorker, batch_size=1, concurrency=workers, num_gpus=1 if gpus else 0, num_cpus=1 if gpus else cpus,
        fn_constructor_kwargs={"model_path": model_path, "card_path": card, "out": str(out),
                               "labels": read_labels(labels), "explain": explain,
                               "methods": list(methods) if methods else None, "threads": threads,
                               "env": {k: v for k, v in os.environ.items() if k.startswith("CRNNAUDIT_")}})
    t0, seen, done_now, per_worker = time.perf_counter(), 0, 0, {}
    for row in ds.iter_rows():
        seen += 1
        done_now += bool(row["done_now"])
        per_worker[int(row["worker"])] = max(per_worker.get(int(row["worker"]), 0), float(row["peak_rss_mb"]))
        if progress:
            progress(seen, len(clips), done_now / max(time.perf_counter() - t0, 1e-9))
    summary = gather(out, RunModel(out))  # model.json: written by the actors from the model they loaded
    return dict(summary, scored_this_run=done_now, engine="ray", gpus=gpus,
                workers={str(k): {"peak_rss_mb": round(v, 1)} for k, v in per_worker.items()})

