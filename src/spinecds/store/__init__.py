"""The audit log: every assessment, from every interface, with its input and output.

SQLAlchemy 2 models, Alembic migrations shipped in the package, SQLite by default and
PostgreSQL for shared deployments (``SPINECDS_DATABASE_URL``)::

    store = AuditStore.from_url("sqlite:///var/spinecds.db")
    store.upgrade()
    record_id = store.record_assessment(NewAssessment(...))
"""

from __future__ import annotations

from spinecds.store.errors import StoreError
from spinecds.store.export import parse_export
from spinecds.store.records import (
    INTERFACES,
    AssessmentRecord,
    AssessmentSummary,
    FeedbackRecord,
    Interface,
    NewAssessment,
    NewFeedback,
)
from spinecds.store.store import AuditStore

__all__ = [
    "INTERFACES",
    "AssessmentRecord",
    "AssessmentSummary",
    "AuditStore",
    "FeedbackRecord",
    "Interface",
    "NewAssessment",
    "NewFeedback",
    "StoreError",
    "parse_export",
]
