"""The ``batch`` and ``synth`` commands (registered in ``spinecds.cli``).

Only typer is imported here at load; the batch machinery (pyarrow, and Spark when chosen)
loads inside the commands, so ``spinecds assess`` stays quick to start.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from spinecds.batch.engines import ChunkDone

__all__ = ["batch_command", "synth_command"]


class EngineName(StrEnum):
    local = "local"
    spark = "spark"


class InputFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"
    fhir_bulk = "fhir-bulk"


class SynthFormat(StrEnum):
    jsonl = "jsonl"
    fhir_bulk = "fhir-bulk"


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None


class _Bar:
    """A rich progress bar with the rate and the time left, fed chunk by chunk."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=quiet,
        )
        self.task = self.bar.add_task("assessing", total=None, rate="")
        self.unit = "records"
        self.resumed = 0

    def start(self, total: int, done: int, unit: str) -> None:
        self.unit, self.resumed = unit, done
        self.bar.update(self.task, total=total, completed=done, description=unit)
        self.bar.start()

    def advance(self, chunk: ChunkDone) -> None:
        self.bar.advance(self.task, chunk.size)
        speed = self.bar.tasks[0].speed
        rate = f"{speed:,.0f} {self.unit}/s" if speed else ""
        self.bar.update(self.task, rate=rate)

    def stop(self) -> None:
        self.bar.stop()


def batch_command(
    input_path: Annotated[
        Path, typer.Argument(help="JSONL, CSV or Parquet file, or a FHIR Bulk export folder.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")],
    engine: Annotated[EngineName, typer.Option(help="Where chunks run.")] = EngineName.local,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (local) or local[N] (spark).")
    ] = None,
    master: Annotated[
        str | None, typer.Option(help="Spark master URL (default: from spark-submit).")
    ] = None,
    fmt: Annotated[
        InputFormat, typer.Option("--format", help="Input format (auto: from the name).")
    ] = InputFormat.auto,
    chunk_size: Annotated[int, typer.Option(min=1, help="Records per chunk.")] = 10_000,
    as_of: Annotated[
        str | None,
        typer.Option(help="FHIR: the day the export describes (default: its transactionTime)."),
    ] = None,
    restart: Annotated[bool, typer.Option(help="Discard an earlier run in --out.")] = False,
    validate_fhir: Annotated[
        bool, typer.Option(help="FHIR: check each resource against the R4 models (slower).")
    ] = False,
    procedures_complete: Annotated[
        bool,
        typer.Option(
            help="FHIR: the export holds every spine operation, so none on record means "
            "never operated (a synthetic export). Otherwise such patients are rejected."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Assess a population: one result row per patient and per order, a summary and a report."""
    from spinecds.batch import run_batch

    bar = _Bar(quiet)
    try:
        result = run_batch(
            input_path,
            out,
            engine=engine.value,
            workers=workers,
            master=master,
            fmt=None if fmt is InputFormat.auto else fmt.value,
            chunk_size=chunk_size,
            as_of=_day(as_of),
            restart=restart,
            validate_fhir=validate_fhir,
            procedures_complete=procedures_complete,
            progress=bar,
        )
    finally:
        bar.stop()
    resumed = f" ({result.resumed} of {result.chunks} chunks from an earlier run)"
    typer.echo(
        f"{result.patients:,} patients and {result.orders:,} orders assessed, "
        f"{result.rejects:,} records rejected{resumed if result.resumed else ''}."
    )
    typer.echo(f"results: {result.out / 'results'}")
    if result.rejects:
        typer.echo(f"rejects: {result.out / 'rejects.jsonl'}")
    typer.echo(f"summary: {result.out / 'summary.csv'}")
    typer.echo(f"report:  {result.out / 'report.html'}")


def synth_command(
    n: Annotated[int, typer.Option("--n", min=1, help="Number of patients.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file or FHIR export folder.")],
    seed: Annotated[int, typer.Option(help="Same seed, same output.")] = 1,
    fmt: Annotated[SynthFormat, typer.Option("--format", help="Output form.")] = SynthFormat.jsonl,
    as_of: Annotated[
        str | None, typer.Option(help="The day the population is seen (default: in the data file).")
    ] = None,
) -> None:
    """Write a synthetic population (distributions in kb/synth/population.yaml)."""
    from spinecds.batch.synth import write_synthetic

    written = write_synthetic(out, n=n, seed=seed, fmt=fmt.value, as_of=_day(as_of))
    typer.echo(f"{n:,} synthetic patients written to {written}")
