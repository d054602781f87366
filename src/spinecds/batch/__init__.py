"""Population audits: assess many patients and imaging orders, locally or on Spark.

    from spinecds.batch import run_batch
    result = run_batch(Path("cases.jsonl"), Path("out"), engine="local", workers=2)

See ``docs/batch.md`` for the input formats, the output files and the engines.
"""

from spinecds.batch.engines import (
    ChunkDone,
    Engine,
    EngineOptions,
    engine_names,
    get_engine,
    register_engine,
)
from spinecds.batch.run import BatchResult, Progress, run_batch

__all__ = [
    "BatchResult",
    "ChunkDone",
    "Engine",
    "EngineOptions",
    "Progress",
    "engine_names",
    "get_engine",
    "register_engine",
    "run_batch",
]
