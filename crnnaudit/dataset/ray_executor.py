"""The Ray executor of dataset audits: a Ray Data pipeline over clip paths, model-holding actors.

``crnnaudit batch MODEL SOURCE... --executor ray [--address ADDR] [--workers N]``. The driver
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
from dataclasses import replace
from typing import Iterator

from ..config import adopt, quiet_tensorflow
from ..errors import CrnnauditError
from .executors import Executor, Job, Outcome, peak_rss_mb


class ClipWorker:
    """A Ray Data actor: one model, loaded once, for every batch of clip paths it is given."""

    def __init__(self, job, threads: int):
        adopt(job.env)  # the driver's CRNNAUDIT_* settings: data folder, limits, models
        quiet_tensorflow()  # before this worker's TensorFlow loads: its notices, CRNNAUDIT_MEMORY's allocator
        if threads:  # a cap asked for explicitly (TensorFlow's own choice was the fastest measured)
            from ..model.backend import ADAPTER
            ADAPTER.limit_threads(threads)
        self.process = job.processor(job.load_model())
        self.pid = str(os.getpid())

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        done = [bool(self.process(path)) for path in batch["path"]]
        return {"path": np.asarray(batch["path"]), "done_now": np.asarray(done),
                "worker": np.full(len(done), self.pid), "peak_rss_mb": np.full(len(done), peak_rss_mb())}


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


class RayExecutor(Executor):
    """A Ray Data pipeline over the clip paths with an actor pool of ``workers`` (default 2)
    :class:`ClipWorker` s (see the module). ``threads``: 0 leaves TensorFlow's own choice,
    the fastest measured (a cap of 2 on 2 cores took 1.7x as long)."""

    name = "ray"

    def run(self, job: Job) -> Iterator[Outcome]:
        import ray
        workers = self.workers or 2
        job = replace(job, model=job.model_path(self.name))
        connect(self.address, workers)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command prints its own: clips/s and time left
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        self.gpus = int(ray.cluster_resources().get("GPU", 0))
        if self.gpus and workers > self.gpus:
            raise CrnnauditError(f"--workers {workers}: the Ray cluster has {self.gpus} GPU(s) and each actor "
                                 f"takes one; use --workers {self.gpus} or fewer")
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
        ds = ray.data.from_items([{"path": p} for p in job.clips], override_num_blocks=len(job.clips)).map_batches(
            ClipWorker, batch_size=1, concurrency=workers, num_gpus=1 if self.gpus else 0,
            num_cpus=1 if self.gpus else cpus, fn_constructor_kwargs={"job": job, "threads": self.threads})
        for row in ds.iter_rows():
            yield Outcome(str(row["path"]), bool(row["done_now"]), str(row["worker"]), float(row["peak_rss_mb"]))

    def describe(self) -> dict:
        return {"gpus": getattr(self, "gpus", 0)}
