"""The local engine: chunks run in worker processes on this machine, no JVM.

Workers are started with ``spawn`` (no inherited threads or locks from the driver, the
same behaviour on every platform); each loads the knowledge base once. At most two chunks
per worker are in flight, so memory stays flat however long the input is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from spinecds.batch.engines import ChunkDone, OnDone, process_chunk
from spinecds.batch.sources import ChunkSpec, Job
from spinecds.errors import SpinecdsError
from spinecds.knowledge.loader import default_kb

__all__ = ["LocalEngine"]


def _warm() -> None:
    default_kb()  # load once per worker, before the first chunk arrives


class LocalEngine:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def run(self, job: Job, chunks: Sequence[ChunkSpec], on_done: OnDone) -> None:
        if not chunks:
            return
        workers = min(self.workers, len(chunks))
        queue = list(reversed(chunks))  # pop() from the end keeps the input order
        pending: set[Future[ChunkDone]] = set()
        context = get_context("spawn")
        try:
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_warm) as pool:
                while queue or pending:
                    while queue and len(pending) < 2 * workers:
                        pending.add(pool.submit(process_chunk, job, queue.pop()))
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        on_done(future.result())
        except BrokenProcessPool:
            raise SpinecdsError(
                "A worker process died (out of memory, or killed). Finished chunks are kept: "
                "run the same command again to resume.",
                exit_code=1,
            ) from None
