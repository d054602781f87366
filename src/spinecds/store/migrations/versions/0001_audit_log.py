"""Audit log: assessments, CDS Hooks feedback and the JWT replay cache.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from models.py: a migration is a record of one moment.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("interface", sa.String(16), nullable=False),
        sa.Column("client", sa.String(200), nullable=True),
        sa.Column("service", sa.String(100), nullable=True),
        sa.Column("input", JSON_DOC, nullable=False),
        sa.Column("output", JSON_DOC, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("knowledge_version", sa.String(100), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=True),
        sa.Column("urgency", sa.String(40), nullable=True),
        sa.Column("pathway", sa.String(100), nullable=True),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.CheckConstraint("status IN ('ok', 'rejected')", name=op.f("ck_assessments_status")),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_case_id", "assessments", ["case_id"])
    op.create_index("ix_assessments_interface", "assessments", ["interface"])
    op.create_index("ix_assessments_started_at", "assessments", ["started_at"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("card_uuid", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("override_reason", JSON_DOC, nullable=True),
        sa.Column("accepted_suggestions", JSON_DOC, nullable=False),
        sa.Column("outcome_at", UTC_TIME, nullable=False),
        sa.Column("client", sa.String(200), nullable=True),
        sa.Column("raw", JSON_DOC, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'overridden')", name=op.f("ck_feedback_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])
    op.create_index("ix_feedback_service_id_received_at", "feedback", ["service_id", "received_at"])

    op.create_table(
        "seen_jti",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("iss", sa.Text(), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_seen_jti"),
    )
    op.create_index("ix_seen_jti_expires_at", "seen_jti", ["expires_at"])


def downgrade() -> None:
    op.drop_table("seen_jti")
    op.drop_table("feedback")
    op.drop_table("assessments")
