"""The Spark engine: the same chunk function, run by Spark executors through mapInPandas.

The plan becomes a DataFrame with one row (and one partition) per chunk; ``mapInPandas``
hands each executor its chunk rows and the executor runs :func:`process_chunk`, exactly
what a local worker runs, so the two engines write identical files. Each task writes its
chunk atomically, which makes retried and speculative tasks harmless. INPUT and OUT must
therefore be paths every executor can reach (a shared or mounted filesystem).

The session is created once per process, on first use, with Spark's own logging turned
down to errors; tests share one ``local[2]`` session.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from spinecds.batch.engines import ChunkDone, OnDone, process_chunk
from spinecds.batch.output import Layout
from spinecds.batch.sources import ChunkSpec, Job
from spinecds.errors import SpinecdsError

__all__ = ["SparkEngine", "spark_session", "stop_spark_session"]

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.submit.name = org.apache.spark.deploy.SparkSubmit
logger.submit.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""
_CHUNK_SCHEMA = "index int, start long, stop long, first long, size long"
_DONE_SCHEMA = "index int, size long, rows long, rejects long"
_POLL_SECONDS = 0.5

_session: Any = None
_log_file: str | None = None
_lock = threading.Lock()


def _log_config() -> str:
    """A log4j2 file for the JVM we start: errors only. The loggers of the classes that
    first start Spark's logging are set too, or Spark announces its default level."""
    global _log_file
    handle, _log_file = tempfile.mkstemp(prefix="spinecds-log4j2-", suffix=".properties")
    with os.fdopen(handle, "w") as out:
        out.write(_LOG4J)
    atexit.register(_remove_log_config)  # the CLI never stops its session explicitly
    return _log_file


def _remove_log_config() -> None:
    global _log_file
    if _log_file is not None:
        with contextlib.suppress(OSError):
            os.unlink(_log_file)
        _log_file = None


def spark_session(master: str | None = None) -> Any:
    """The process's SparkSession, created on first call (later calls reuse it).

    ``master`` applies only to the first call; without it, the master comes from
    ``spark-submit`` (or Spark's default, all local cores).
    """
    global _session
    with _lock:
        if _session is None:
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.appName("spinecds-batch").config(
                "spark.ui.showConsoleProgress",
                "false",  # our own bar shows progress
            )
            if master:
                builder = builder.master(master)
            submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # started by spark-submit
            if (master or "local").startswith("local") and not submitted:
                # We start the JVM here: quiet its logging from the first line, skip the
                # web UI, and let Python workers run this interpreter (and its packages).
                # Under spark-submit the cluster's own settings decide all three.
                quiet = f"-Dlog4j2.configurationFile=file:{_log_config()}"
                builder = builder.config("spark.driver.extraJavaOptions", quiet).config(
                    "spark.ui.enabled", "false"
                )
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            _session = builder.getOrCreate()
            _session.sparkContext.setLogLevel("ERROR")
        return _session


def stop_spark_session() -> None:
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None
        _remove_log_config()


def _chunk_runner(job: Job) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function each executor applies to its pandas batches of chunk rows."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd  # type: ignore[import-untyped]

        for batch in batches:
            done = [
                process_chunk(job, ChunkSpec(*(int(v) for v in row)))
                for row in batch.itertuples(index=False, name=None)
            ]
            yield pd.DataFrame(
                {
                    "index": [d.index for d in done],
                    "size": [d.size for d in done],
                    "rows": [d.rows for d in done],
                    "rejects": [d.rejects for d in done],
                }
            )

    return run


class SparkEngine:
    name = "spark"

    def __init__(self, workers: int | None = None, master: str | None = None) -> None:
        self.master = master or (f"local[{workers}]" if workers else None)

    def run(self, job: Job, chunks: Sequence[ChunkSpec], on_done: OnDone) -> None:
        if not chunks:
            return
        spark = spark_session(self.master)
        rows = [(c.index, c.start, c.stop, c.first, c.size) for c in chunks]
        # One partition per chunk: Spark hands chunks out as executors free up.
        frame = spark.createDataFrame(
            spark.sparkContext.parallelize(rows, len(rows)), _CHUNK_SCHEMA
        )
        result: list[Any] = []
        failure: list[BaseException] = []

        def collect() -> None:
            try:
                result.extend(frame.mapInPandas(_chunk_runner(job), _DONE_SCHEMA).collect())
            except BaseException as exc:  # handed to the caller's thread below
                failure.append(exc)

        worker = threading.Thread(target=collect, name="spinecds-spark-job", daemon=True)
        worker.start()
        _watch(Layout(Path(job.out)), {c.index for c in chunks}, worker, on_done)
        if failure:
            raise SpinecdsError(
                f"The Spark job failed: {_first_line(failure[0])}. Finished chunks are kept: "
                "run the same command again to resume.",
                exit_code=1,
            ) from failure[0]


def _watch(layout: Layout, waiting: set[int], worker: threading.Thread, on_done: OnDone) -> None:
    """Report chunks as their done markers appear, until the Spark job ends."""
    while True:
        running = worker.is_alive()
        for index in sorted(waiting):
            marker = layout.done(index)
            if marker.exists():
                data = json.loads(marker.read_text(encoding="utf-8"))
                waiting.discard(index)
                on_done(ChunkDone(index, data["size"], data["rows"], data["rejects"]))
        if not running:
            return
        worker.join(_POLL_SECONDS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if "Error" in line or "Exception" in line]
    return (lines[-1] if lines else text.splitlines()[0])[:300]
