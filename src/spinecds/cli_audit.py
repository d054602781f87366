"""``spinecds audit``: read, export and migrate the audit log.

The database is ``SPINECDS_DATABASE_URL`` (default ``sqlite:///var/spinecds.db``). Only
typer is imported at load: SQLAlchemy and Alembic load inside the commands, so the rest
of the CLI starts fast.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spinecds.errors import FieldProblem, SpinecdsError

if TYPE_CHECKING:
    from spinecds.store import AuditStore

__all__ = ["audit_app"]

audit_app = typer.Typer(
    no_args_is_help=True,
    help="Read and export the audit log: every assessment, from every interface.",
)


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


class InterfaceName(StrEnum):
    rest = "rest"
    web = "web"
    cds_hooks = "cds-hooks"
    cli = "cli"
    batch = "batch"


InterfaceOption = Annotated[
    InterfaceName | None, typer.Option("--interface", help="Only this interface.")
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="Only assessments started at or after this ISO date/time (UTC if no zone)."
    ),
]


def parse_since(value: str | None) -> datetime | None:
    """``2025-03-01`` or ``2025-03-01T08:30`` (UTC) or with an offset; None stays None."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SpinecdsError(
            "--since is not a date or time.",
            [
                FieldProblem(
                    "--since", f"{value!r} is not ISO 8601", "e.g. 2025-03-01 or 2025-03-01T08:30Z"
                )
            ],
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def open_store() -> AuditStore:
    """The configured audit log, refusing to create one just to read it."""
    from spinecds.config import get_settings
    from spinecds.store import AuditStore
    from spinecds.store.engine import parse_url, redacted

    url = get_settings().database_url
    parsed = parse_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        if not Path(database).exists():
            raise SpinecdsError(
                f"There is no audit log at {database}.",
                [
                    FieldProblem(
                        "SPINECDS_DATABASE_URL",
                        f"{redacted(parsed)}: the SQLite file does not exist",
                        "point SPINECDS_DATABASE_URL at the service's database, or create an "
                        "empty one with `spinecds audit upgrade`",
                    )
                ],
            )
    store = AuditStore.from_url(url)
    if store.current_revision() is None:
        store.close()
        raise SpinecdsError(
            f"The database {store.url} has no audit-log tables.",
            [
                FieldProblem(
                    "SPINECDS_DATABASE_URL", "no audit-log schema", "run `spinecds audit upgrade`"
                )
            ],
        )
    return store


@audit_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    interface: InterfaceOption = None,
    since: SinceOption = None,
) -> None:
    """List recent assessments, newest first."""
    from rich.console import Console
    from rich.table import Table

    name = interface.value if interface else None
    moment = parse_since(since)
    with open_store() as store:
        rows = store.list_assessments(limit=limit, offset=offset, interface=name, since=moment)
        total = store.count_assessments(interface=name, since=moment)
    table = Table(title=f"audit log {store.url}: {len(rows)} of {total} assessment(s)")
    table.add_column("id", no_wrap=True, min_width=32)
    for column in ("started (UTC)", "interface", "client", "status", "urgency", "pathway"):
        table.add_column(column)
    table.add_column("case")
    table.add_column("ms", justify="right")
    for row in rows:
        table.add_row(
            row.id,
            row.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.interface,
            row.client or "",
            row.status,
            row.urgency or "",
            row.pathway or "",
            row.case_id or "",
            f"{row.duration_ms:.1f}",
        )
    Console(width=200).print(table)


@audit_app.command("show")
def show_command(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="An id from `audit list`.")],
) -> None:
    """Print one assessment with its input and output, as JSON."""
    with open_store() as store:
        record = store.get_assessment(record_id.strip())
    if record is None:
        raise SpinecdsError(
            f"No assessment with id {record_id!r} in the audit log.",
            [
                FieldProblem(
                    "ID", f"not found in {store.url}", "list ids with `spinecds audit list`"
                )
            ],
        )
    typer.echo(json.dumps(record.to_json_dict(), indent=2, ensure_ascii=False))


@audit_app.command("export")
def export_command(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ExportFormat.jsonl
    ),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File (default: stdout).")] = None,
    interface: InterfaceOption = None,
    since: SinceOption = None,
) -> None:
    """Export assessments, oldest first, as JSON lines or CSV (input/output as JSON cells)."""
    name = interface.value if interface else None
    moment = parse_since(since)
    with open_store() as store:
        if out is None:
            count = store.export(sys.stdout, fmt.value, interface=name, since=moment)
        else:
            count = _export_to_file(store, out, fmt.value, name, moment)
    typer.echo(f"exported {count} assessment(s) to {out or 'stdout'}", err=True)


def _export_to_file(
    store: AuditStore, out: Path, fmt: str, interface: str | None, since: datetime | None
) -> int:
    # Written beside the target and renamed at the end: a failed export leaves no torn file.
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            count = store.export(stream, fmt, interface=interface, since=since)
        partial.replace(out)
    except OSError as exc:
        raise SpinecdsError(
            "The export file cannot be written.",
            [FieldProblem("--out", f"{out}: {exc.strerror or exc}", "choose a writable path")],
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return count


@audit_app.command("upgrade")
def upgrade_command() -> None:
    """Create the audit-log tables or bring them to this version's schema (idempotent)."""
    from spinecds.config import get_settings
    from spinecds.store import AuditStore

    with AuditStore.from_url(get_settings().database_url) as store:
        store.upgrade()
        typer.echo(f"audit log {store.url}: schema at revision {store.current_revision()}")
