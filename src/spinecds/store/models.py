"""The audit log's tables, as SQLAlchemy 2 declarative models.

The schema itself is created and changed only by the Alembic migrations in
``migrations/versions``; ``tests/test_store.py`` checks that these models and the
migrations agree (an autogenerate comparison finds no difference).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Dialect, Float, Index, MetaData, String
from sqlalchemy import Text as SAText
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["AssessmentRow", "Base", "FeedbackRow", "JsonDoc", "SeenJti", "UTCDateTime"]

# Stable constraint names, the same on SQLite and PostgreSQL, so migrations can name them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps the zone (timestamptz); SQLite stores text without one, so values are
    converted to UTC on the way in and marked UTC on the way out. Naive datetimes are
    refused: a time without a zone is ambiguous in an audit log.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AssessmentRow(Base):
    """One assessment from any interface (REST, web page, CDS Hooks, CLI, batch)."""

    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    interface: Mapped[str] = mapped_column(String(16), index=True)
    client: Mapped[str | None] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(String(100))
    input: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    output: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(SAText)
    knowledge_version: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    urgency: Mapped[str | None] = mapped_column(String(40))
    pathway: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[float] = mapped_column(Float)

    __table_args__ = (CheckConstraint("status IN ('ok', 'rejected')", name="status"),)


class FeedbackRow(Base):
    """CDS Hooks feedback on a card (``POST /cds-services/{id}/feedback``)."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(100))
    card_uuid: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    override_reason: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    accepted_suggestions: Mapped[list[Any]] = mapped_column(JsonDoc)
    outcome_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (
        CheckConstraint("outcome IN ('accepted', 'overridden')", name="outcome"),
        Index("ix_feedback_service_id_received_at", "service_id", "received_at"),
    )


class SeenJti(Base):
    """JWT ids already used, per issuer: the CDS Hooks replay cache, shared by replicas.

    The key is a SHA-256 digest of issuer and jti, so a token with a very long ``jti``
    still fits the primary key (which is what makes a second claim fail, in any process).
    """

    __tablename__ = "seen_jti"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    iss: Mapped[str] = mapped_column(SAText)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
