"""What flows through a batch: input records in, result rows and rejects out.

A reader turns its input into :class:`Ready` records (a raw case dict, not yet parsed) or
:class:`Rejected` ones (the input itself was unreadable). :func:`assess_records` parses
and assesses the ready ones in one tight loop and collects the result columns as plain
lists, so a chunk becomes one Arrow table without a per-row pandas or dict detour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from spinecds.assessment import Assessment
from spinecds.case import parse_case
from spinecds.engine.assess import assess
from spinecds.errors import CaseError, FieldProblem
from spinecds.knowledge.loader import KnowledgeBase

__all__ = [
    "COLUMNS",
    "ENVELOPE_FIELDS",
    "ChunkRows",
    "Ready",
    "Rejected",
    "assess_records",
    "parse_record_date",
    "rejected_from_problems",
]

# The result columns, in order (see docs/batch.md). ``kind`` is ``patient`` for a record
# assessed as a patient (a JSONL line, a table row, a FHIR patient) and ``order`` for an
# extra row reviewing one imaging ServiceRequest of a FHIR patient.
COLUMNS: tuple[str, ...] = (
    "record",
    "kind",
    "case_id",
    "patient_id",
    "record_date",
    "pathway",
    "urgency",
    "referral",
    "acr_variant",
    "order",
    "order_category",
    "order_rating",
    "order_rrl",
    "order_rrl_dose",
    "order_verdict",
    "next_imaging",
    "open_questions",
    "knowledge_version",
)

# Batch-only fields a JSONL record or table row may carry beside the case; they are
# taken out before the case is parsed (the case format itself rejects unknown keys).
ENVELOPE_FIELDS: tuple[str, ...] = ("patient_id", "record_date")


class Ready(NamedTuple):
    """A record whose case dict is ready to parse."""

    record: str  # where it came from: "cases.jsonl:17", "Patient/p1", "ServiceRequest/s9"
    kind: str  # "patient" or "order"
    patient_id: str | None
    record_date: date | None
    data: Any


class Rejected(NamedTuple):
    """A record that cannot be assessed, with the reason (it goes to the rejects file)."""

    record: str
    kind: str
    reason: str
    problems: tuple[FieldProblem, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "record": self.record,
            "kind": self.kind,
            "reason": self.reason,
            "problems": [p.as_dict() for p in self.problems],
        }


def rejected_from_problems(record: str, kind: str, error: CaseError) -> Rejected:
    return Rejected(record, kind, error.message, tuple(error.problems))


def parse_record_date(value: Any) -> date | None:
    """An ISO date (``2025-03-14``) or date-time; ``None`` or empty means no date.

    Raises ValueError with a message naming the expected form.
    """
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ValueError(f"record_date {value!r} is not an ISO date such as 2025-03-14")


@dataclass
class ChunkRows:
    """The result columns of one chunk, as lists, plus its rejects."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in COLUMNS})
    rejects: list[Rejected] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.columns["record"])


def _order_dose(a: Assessment, order: str) -> str | None:
    if a.acr is None:
        return None
    for rating in a.acr.ratings:
        if rating.procedure == order:
            return rating.rrl_dose
    return None


def assess_records(records: Iterable[Ready | Rejected], kb: KnowledgeBase) -> ChunkRows:
    """Parse and assess every ready record; a failure becomes a reject, never an abort.

    Reads the fields straight off the assessment (the same values ``to_json_dict`` holds)
    rather than building the whole JSON dict: that would cost more than the assessment.
    """
    out = ChunkRows()
    cols = out.columns
    append = [cols[c].append for c in COLUMNS]
    (
        put_record,
        put_kind,
        put_case_id,
        put_patient,
        put_date,
        put_pathway,
        put_urgency,
        put_referral,
        put_variant,
        put_order,
        put_category,
        put_rating,
        put_rrl,
        put_dose,
        put_verdict,
        put_next,
        put_questions,
        put_version,
    ) = append
    vocab, procedures = kb.vocabulary, kb.procedures
    for rec in records:
        if isinstance(rec, Rejected):
            out.rejects.append(rec)
            continue
        try:
            a = assess(parse_case(rec.data, vocab, procedures), kb)
        except CaseError as exc:
            out.rejects.append(rejected_from_problems(rec.record, rec.kind, exc))
            continue
        except Exception as exc:  # an engine fault on one record must not stop the run
            reason = f"internal error while assessing: {type(exc).__name__}: {exc}"
            out.rejects.append(Rejected(rec.record, rec.kind, reason))
            continue
        put_record(rec.record)
        put_kind(rec.kind)
        put_case_id(a.case_id)
        put_patient(rec.patient_id)
        put_date(rec.record_date)
        put_pathway(a.pathway)
        put_urgency(a.urgency)
        put_referral(a.referral)
        put_variant(a.acr.key if a.acr is not None else None)
        review = a.order_review
        if review is None:
            put_order(None)
            put_category(None)
            put_rating(None)
            put_rrl(None)
            put_dose(None)
            put_verdict(None)
        else:
            put_order(review.order)
            put_category(review.category)
            put_rating(review.rating)
            put_rrl(review.rrl)
            put_dose(_order_dose(a, review.order))
            put_verdict(review.verdict)
        put_next(a.next_imaging)
        put_questions(len(a.questions))
        put_version(a.knowledge_version)
    return out
