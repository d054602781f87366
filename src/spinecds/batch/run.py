"""One batch run: plan (or resume) the chunks, let an engine process them, then summarise.

The plan is saved in ``OUT/_batch/plan.json`` with the input's fingerprint and the
knowledge version. A rerun with the same input and knowledge skips every finished chunk
and ends with the same files; a rerun against a changed input or knowledge base stops
and says so, rather than mixing two runs in one folder.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from spinecds.batch.engines import ChunkDone, EngineOptions, get_engine
from spinecds.batch.output import Layout, atomic_concatenate, atomic_write_text
from spinecds.batch.report import write_report
from spinecds.batch.sources import ChunkSpec, Job, detect_format, open_source
from spinecds.batch.summary import summarise
from spinecds.errors import FieldProblem, SpinecdsError
from spinecds.knowledge.loader import default_kb

__all__ = ["BatchResult", "Progress", "run_batch"]

PLAN_VERSION = 1


class Progress(Protocol):
    """Told about the work as it goes; the CLI draws a bar from it."""

    def start(self, total: int, done: int, unit: str) -> None:
        """``total`` input units, of which ``done`` were finished by an earlier run."""

    def advance(self, chunk: ChunkDone) -> None:
        """One more chunk finished."""


class _Silent:
    def start(self, total: int, done: int, unit: str) -> None:
        pass

    def advance(self, chunk: ChunkDone) -> None:
        pass


@dataclass(frozen=True)
class BatchResult:
    out: Path
    chunks: int
    resumed: int  # chunks finished by an earlier run and skipped
    rows: int
    patients: int
    orders: int
    rejects: int
    knowledge_version: str
    seconds: dict[str, float]  # wall time of each phase: plan, chunks, summary, report


def _fail(message: str, where: str, problem: str, fix: str) -> SpinecdsError:
    return SpinecdsError(message, [FieldProblem(where, problem, fix)])


def _check_out(layout: Layout) -> None:
    root = layout.root
    if root.exists() and not root.is_dir():
        raise _fail("The output must be a folder.", str(root), "is a file", "choose a folder")
    ours = {p.name for p in (layout.results, layout.meta, layout.rejects, layout.summary)}
    ours.add(layout.report.name)
    # A folder holding only our own files is an earlier run (maybe one that died planning).
    if root.is_dir() and any(p.name not in ours for p in root.iterdir()):
        raise _fail(
            "The output folder holds other files, not a batch run.",
            str(root),
            "not empty",
            "choose a new or empty folder for --out",
        )


def _clear(layout: Layout) -> None:
    for folder in (layout.results, layout.meta):
        shutil.rmtree(folder, ignore_errors=True)
    for path in (layout.rejects, layout.summary, layout.report):
        path.unlink(missing_ok=True)


def _identity(job: Job, fingerprint: list[list[Any]], knowledge: str) -> dict[str, Any]:
    return {
        "plan_version": PLAN_VERSION,
        "format": job.fmt,
        "input": job.input,
        "files": fingerprint,
        "chunk_size": job.chunk_size,
        "as_of_given": job.as_of.isoformat() if job.as_of else None,
        "validate_fhir": job.validate_fhir,
        "procedures_complete": job.procedures_complete,
        "knowledge_version": knowledge,
    }


def _load_plan(layout: Layout, identity: dict[str, Any]) -> tuple[list[ChunkSpec], Any] | None:
    if not layout.plan.exists():
        return None
    saved = json.loads(layout.plan.read_text(encoding="utf-8"))
    changed = [k for k, v in identity.items() if saved.get(k) != v]
    if changed:
        raise _fail(
            "The output folder holds a run of a different input, chunking or knowledge base.",
            str(layout.root),
            f"changed since that run: {', '.join(changed)}",
            "pass --restart to discard it, or choose another --out",
        )
    specs = [ChunkSpec(**spec) for spec in saved["chunks"]]
    return specs, saved.get("as_of")


def _plan(job: Job, layout: Layout, identity: dict[str, Any]) -> tuple[list[ChunkSpec], Job]:
    loaded = _load_plan(layout, identity)
    if loaded is not None:
        specs, as_of = loaded
        return specs, _with_as_of(job, as_of)
    if job.fmt == "fhir-bulk" and job.as_of is None:
        from spinecds.batch.fhir_bulk import export_date

        job = _with_as_of(job, export_date(Path(job.input)).isoformat())
    layout.make_dirs()
    specs = open_source(job).plan(layout.meta / "stage")
    plan = {
        **identity,
        "as_of": job.as_of.isoformat() if job.as_of else None,
        "chunks": [asdict(s) for s in specs],
    }
    atomic_write_text(layout.plan, json.dumps(plan, indent=1) + "\n")
    return specs, job


def _with_as_of(job: Job, as_of: str | None) -> Job:
    return replace(job, as_of=date.fromisoformat(as_of) if as_of else None)


def _merge_rejects(layout: Layout, count: int) -> None:
    staged = layout.meta / "stage" / "rejects.jsonl"  # lines a FHIR export could not place
    parts = [staged] if staged.exists() else []
    atomic_concatenate(layout.rejects, [*parts, *(layout.chunk_rejects(i) for i in range(count))])


def run_batch(
    input_path: Path,
    out: Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    master: str | None = None,
    fmt: str | None = None,
    chunk_size: int = 10_000,
    as_of: date | None = None,
    restart: bool = False,
    validate_fhir: bool = False,
    procedures_complete: bool = False,
    progress: Progress | None = None,
) -> BatchResult:
    """Assess every record of ``input_path`` into ``out`` (see ``docs/batch.md``)."""
    if not input_path.exists():
        raise _fail("The input does not exist.", str(input_path), "not found", "check the path")
    if chunk_size < 1:
        raise _fail("The chunk size must be positive.", "chunk_size", str(chunk_size), "use 10000")
    progress = progress or _Silent()
    layout = Layout(out.resolve())
    _check_out(layout)
    if restart:
        _clear(layout)
    fmt = fmt or detect_format(input_path)
    job = Job(
        str(input_path.resolve()),
        fmt,
        str(layout.root),
        chunk_size,
        as_of,
        validate_fhir,
        procedures_complete,
    )
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[phase] = round(now - clock, 3)
        clock = now

    source = open_source(job)
    knowledge = default_kb().version
    specs, job = _plan(job, layout, _identity(job, source.fingerprint(), knowledge))
    lap("plan")
    layout.make_dirs()
    finished = layout.finished()
    pending = [s for s in specs if s.index not in finished]
    for spec in pending:  # a marker without its result file is stale
        layout.done(spec.index).unlink(missing_ok=True)
    unit = "patients" if fmt == "fhir-bulk" else "records"
    progress.start(
        sum(s.size for s in specs), sum(s.size for s in specs if s.index in finished), unit
    )
    get_engine(engine, EngineOptions(workers, master)).run(job, pending, progress.advance)
    lap("chunks")
    _merge_rejects(layout, len(specs))
    summary = summarise(layout, len(specs))
    atomic_write_text(layout.summary, summary.to_csv())
    lap("summary")
    write_report(layout, summary, input_path.name)
    lap("report")
    return BatchResult(
        out=layout.root,
        chunks=len(specs),
        resumed=len(finished & {s.index for s in specs}),
        rows=summary.rows,
        patients=summary.patients,
        orders=summary.orders,
        rejects=summary.rejects,
        knowledge_version=knowledge,
        seconds=timings,
    )
