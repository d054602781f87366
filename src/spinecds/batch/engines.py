"""The engine interface and registry, and the chunk function every engine runs.

An engine only decides *where* chunks run: local worker processes, or Spark executors.
What happens to a chunk is always :func:`process_chunk`, so both engines write the same
bytes for the same input (the tests compare them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from spinecds.batch.output import Layout, write_chunk
from spinecds.batch.records import assess_records
from spinecds.batch.sources import ChunkSpec, Job, open_source
from spinecds.errors import FieldProblem, SpinecdsError
from spinecds.knowledge.loader import default_kb

__all__ = [
    "ChunkDone",
    "Engine",
    "EngineFactory",
    "EngineOptions",
    "engine_names",
    "get_engine",
    "process_chunk",
    "register_engine",
]


@dataclass(frozen=True, slots=True)
class ChunkDone:
    index: int
    size: int  # input units (lines, rows, patients)
    rows: int  # result rows written
    rejects: int


OnDone = Callable[[ChunkDone], None]


class Engine(Protocol):
    name: str

    def run(self, job: Job, chunks: Sequence[ChunkSpec], on_done: OnDone) -> None:
        """Process every chunk (in any order); call ``on_done`` in the caller's process."""
        ...


@dataclass(frozen=True, slots=True)
class EngineOptions:
    workers: int | None = None  # None: the engine's default (all local cores)
    master: str | None = None  # Spark master URL; None: from spark-submit, else local


EngineFactory = Callable[[EngineOptions], Engine]


def process_chunk(job: Job, spec: ChunkSpec) -> ChunkDone:
    """Read, assess and write one chunk. Idempotent: running it twice writes the same files."""
    rows = assess_records(open_source(job).read(spec), default_kb())
    write_chunk(Layout(Path(job.out)), spec.index, rows, {"size": spec.size})
    return ChunkDone(spec.index, spec.size, rows.size, len(rows.rejects))


_REGISTRY: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Add a backend (the factory is called only when the engine is chosen)."""
    _REGISTRY[name] = factory


def engine_names() -> list[str]:
    return sorted(_REGISTRY)


def get_engine(name: str, options: EngineOptions | None = None) -> Engine:
    factory = _REGISTRY.get(name)
    if factory is None:
        raise SpinecdsError(
            "No such batch engine.",
            [FieldProblem("engine", f"{name!r} is not an engine.", f"use {engine_names()}")],
        )
    return factory(options or EngineOptions())


def _local(options: EngineOptions) -> Engine:
    from spinecds.batch.local import LocalEngine

    return LocalEngine(options.workers)


def _spark(options: EngineOptions) -> Engine:
    from spinecds.batch.spark import SparkEngine

    return SparkEngine(options.workers, options.master)


register_engine("local", _local)
register_engine("spark", _spark)
