"""``AuditStore``: the audit log's one entry point, safe to share between threads.

It holds one Engine (a connection pool) and opens a short session per call, so the
FastAPI thread pool, two uvicorn workers and several replicas can all write at once.
Each write is one transaction: it commits whole or leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Connection, Engine, Select, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from spinecds.errors import FieldProblem
from spinecds.store import migrate
from spinecds.store.engine import WRITE, dumps, make_engine, redacted
from spinecds.store.errors import StoreError
from spinecds.store.export import check_format, write_export
from spinecds.store.models import AssessmentRow, FeedbackRow, SeenJti
from spinecds.store.records import (
    AssessmentRecord,
    AssessmentSummary,
    FeedbackRecord,
    NewAssessment,
    NewFeedback,
)

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["AuditStore"]

# Expired replay-cache rows are deleted by at most one claim per this many seconds.
JTI_PURGE_EVERY_S = 60.0
EXPORT_BATCH = 500

_ASSESSMENT_FIELDS = tuple(NewAssessment.model_fields)
_INSERT_ASSESSMENT = insert(AssessmentRow)

SUMMARY_COLUMNS = tuple(
    getattr(AssessmentRow, name) for name in AssessmentSummary.model_fields if name != "id"
)


class AuditStore:
    """Every assessment, CDS Hooks feedback item and used JWT id, in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        # SQLite has one writer at a time. Threads of this process queue here, in order;
        # left to SQLite's busy handler (which sleeps and retries) a few unlucky writers
        # wait far longer than the rest. Other processes still meet at SQLite's lock.
        self._write_turn: AbstractContextManager[Any] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )
        self._purge_lock = threading.Lock()
        self._last_purge = float("-inf")

    @classmethod
    def from_url(cls, url: str) -> AuditStore:
        """Open (not yet migrate) the database: ``sqlite:///var/spinecds.db`` or PostgreSQL."""
        return cls(make_engine(url))

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with the password hidden."""
        return redacted(self._engine.url)

    def close(self) -> None:
        """Close the pooled connections (a store is not used after this)."""
        self._engine.dispose()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- schema -------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision; a no-op when it is there."""
        with self._failure("The audit-log schema could not be upgraded"):
            migrate.upgrade(self._engine)

    def current_revision(self) -> str | None:
        """The schema's Alembic revision; None for a database without the audit log."""
        with self._failure("The audit-log schema version could not be read"):
            return migrate.current_revision(self._engine)

    def alembic_config(self) -> Config:
        """An Alembic configuration bound to this database (for ``alembic.command``)."""
        return migrate.alembic_config(self._engine)

    def check(self) -> None:
        """Cheap connectivity check for ``/healthz``: raises StoreError when unreachable."""
        with self._failure("The audit-log database is unreachable"), self._engine.connect() as c:
            c.execute(text("SELECT 1"))

    # --- assessments --------------------------------------------------------------------

    def record_assessment(self, new: NewAssessment) -> str:
        """Store one assessment in one transaction; return its id (a uuid4 hex)."""
        record_id = uuid.uuid4().hex
        # One prepared Core INSERT with the record's own values: no ORM unit of work and no
        # deep copy of the (30 kB) output. At hundreds of writes a second the ORM path cost
        # more than SQLite itself (bench/service_load.py).
        values = {name: getattr(new, name) for name in _ASSESSMENT_FIELDS}
        with self._failure("The assessment could not be written to the audit log", new):
            with self._write_core() as connection:
                connection.execute(_INSERT_ASSESSMENT, {"id": record_id, **values})
        return record_id

    def get_assessment(self, record_id: str) -> AssessmentRecord | None:
        with self._failure("The audit log could not be read"), Session(self._engine) as session:
            row = session.get(AssessmentRow, record_id)
            return None if row is None else _assessment(row)

    def list_assessments(
        self,
        limit: int = 50,
        offset: int = 0,
        interface: str | None = None,
        since: datetime | None = None,
    ) -> list[AssessmentSummary]:
        """Newest first, without input and output (they can be large)."""
        if limit < 0 or offset < 0:
            raise StoreError(
                "limit and offset cannot be negative.",
                [FieldProblem("limit" if limit < 0 else "offset", "negative", "use 0 or more")],
                exit_code=2,
            )
        query = _filtered(select(AssessmentRow.id, *SUMMARY_COLUMNS), interface, since)
        query = query.order_by(AssessmentRow.started_at.desc(), AssessmentRow.id.desc())
        with self._failure("The audit log could not be read"), Session(self._engine) as session:
            rows = session.execute(query.limit(limit).offset(offset)).mappings()
            return [AssessmentSummary.model_validate(dict(row)) for row in rows]

    def count_assessments(self, interface: str | None = None, since: datetime | None = None) -> int:
        query = _filtered(select(func.count()).select_from(AssessmentRow), interface, since)
        with self._failure("The audit log could not be read"), Session(self._engine) as session:
            return int(session.execute(query).scalar_one())

    def export(
        self,
        out: TextIO,
        fmt: str = "jsonl",
        interface: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """Write matching assessments, oldest first, as JSON lines or CSV; return the count.

        Rows are fetched in batches (a server-side cursor on PostgreSQL), so the export of a
        large log never holds it all in memory.
        """
        check_format(fmt)
        query = _filtered(select(AssessmentRow), interface, since)
        query = query.order_by(AssessmentRow.started_at, AssessmentRow.id)
        query = query.execution_options(yield_per=EXPORT_BATCH)
        with self._failure("The audit log could not be exported"), Session(self._engine) as session:
            records = (_assessment(row) for row in session.scalars(query))
            return write_export(records, out, fmt)

    # --- CDS Hooks feedback -------------------------------------------------------------

    def record_feedback(self, new: NewFeedback) -> str:
        row = FeedbackRow(id=uuid.uuid4().hex, received_at=datetime.now(UTC), **new.model_dump())
        with self._failure("The feedback could not be written to the audit log", new):
            with self._write() as session:
                session.add(row)
        return row.id

    def list_feedback(
        self,
        limit: int = 50,
        offset: int = 0,
        service_id: str | None = None,
        card_uuid: str | None = None,
        since: datetime | None = None,
    ) -> list[FeedbackRecord]:
        """Newest received first."""
        query = select(FeedbackRow)
        if service_id is not None:
            query = query.where(FeedbackRow.service_id == service_id)
        if card_uuid is not None:
            query = query.where(FeedbackRow.card_uuid == card_uuid)
        if since is not None:
            query = query.where(FeedbackRow.received_at >= _aware(since))
        query = query.order_by(FeedbackRow.received_at.desc(), FeedbackRow.id.desc())
        with self._failure("The audit log could not be read"), Session(self._engine) as session:
            rows = session.scalars(query.limit(max(limit, 0)).offset(max(offset, 0)))
            return [FeedbackRecord.model_validate(row, from_attributes=True) for row in rows]

    # --- JWT replay cache ---------------------------------------------------------------

    def claim_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Record a token id; False when this issuer's ``jti`` was already seen (a replay).

        The primary key makes the check atomic across threads, processes and replicas: of
        two requests with the same token, exactly one insert succeeds. Keep ``expires_at``
        at least the token's ``exp`` plus the allowed clock skew: an id is forgotten (and
        could be claimed again) only after that time.
        """
        self._maybe_purge()
        digest = hashlib.sha256(f"{iss}\0{jti}".encode()).hexdigest()
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(SeenJti)
            .values(digest=digest, iss=iss, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(SeenJti.digest)  # a row back means this call inserted it
        )
        with self._failure("The JWT replay cache could not be written"), self._write_core() as c:
            return c.execute(statement).first() is not None

    def purge_expired_jti(self, now: datetime | None = None) -> int:
        """Delete replay-cache entries that expired before ``now``; return how many."""
        cutoff = now or datetime.now(UTC)
        statement = delete(SeenJti).where(SeenJti.expires_at < cutoff)
        with self._failure("The JWT replay cache could not be purged"), self._write_core() as c:
            return c.execute(statement).rowcount

    def _maybe_purge(self) -> None:
        with self._purge_lock:
            due = time.monotonic() - self._last_purge >= JTI_PURGE_EVERY_S
            if due:
                self._last_purge = time.monotonic()
        if due:
            self.purge_expired_jti()

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self._write_turn, Session(self._writer, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def _write_core(self) -> Iterator[Connection]:
        """The same for a Core statement: one transaction, committed or rolled back."""
        with self._write_turn, self._writer.begin() as connection:
            yield connection

    @contextmanager
    def _failure(self, what: str, new: NewAssessment | NewFeedback | None = None) -> Iterator[None]:
        """Turn a database failure into a StoreError that names its cause."""
        try:
            yield
        except (SQLAlchemyError, TypeError, ValueError) as exc:
            # psycopg raises the JSON encoder's TypeError unwrapped; SQLite's comes wrapped.
            problem = _json_problem(new)
            if problem is None and not isinstance(exc, SQLAlchemyError):
                raise
            problem = problem or FieldProblem("database", f"{_cause(exc)} ({self.url})", _fix(exc))
            raise StoreError(
                f"{what}; nothing was stored." if new is not None else f"{what}.", [problem]
            ) from exc


def _filtered(query: Select[Any], interface: str | None, since: datetime | None) -> Select[Any]:
    if interface is not None:
        query = query.where(AssessmentRow.interface == interface)
    if since is not None:
        query = query.where(AssessmentRow.started_at >= _aware(since))
    return query


def _aware(since: datetime) -> datetime:
    if since.tzinfo is None:
        raise StoreError(
            "since needs a time zone.",
            [FieldProblem("since", f"{since.isoformat()} has none", "pass an aware UTC datetime")],
            exit_code=2,
        )
    return since


def _assessment(row: AssessmentRow) -> AssessmentRecord:
    return AssessmentRecord.model_validate(row, from_attributes=True)


def _json_problem(new: NewAssessment | NewFeedback | None) -> FieldProblem | None:
    """Which JSON field of a failed write cannot be serialised, if that was the cause."""
    if new is None:
        return None
    for name, value in new:
        if isinstance(value, dict | list):
            try:
                dumps(value)
            except (TypeError, ValueError) as exc:
                return FieldProblem(
                    name,
                    f"not valid JSON: {exc}",
                    "pass only dicts, lists, strings, finite numbers, booleans and None",
                )
    return None


def _cause(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc.__cause__ or exc
    return f"{type(original).__name__}: {str(original).strip().splitlines()[0]}"


def _fix(exc: Exception) -> str:
    text_ = str(exc).lower()
    if "no such table" in text_ or ("relation" in text_ and "does not exist" in text_):
        return "create the schema with `spinecds audit upgrade`"
    if "locked" in text_:
        return "another process holds the database too long; retry, or use PostgreSQL"
    return "check that the database is running and SPINECDS_DATABASE_URL is right"
