"""Small readers for FHIR R4 JSON as plain dicts: bundles, references, dates, concepts.

Everything here works on the JSON the server sent (or a bulk export line), never on model
objects, so the service and the batch engine read records the same way and fast. JSON
objects are ``dict``: an ``isinstance(x, dict)`` check is several times cheaper than one
against the ``Mapping`` ABC, and the batch engine reads millions of codings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

__all__ = [
    "Json",
    "Moment",
    "codings",
    "concept_text",
    "flatten",
    "moment",
    "ref_id",
    "ref_of",
    "status_code",
]

Json = Mapping[str, Any]
_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def flatten(items: Iterable[Any], notes: list[str]) -> Iterator[Json]:
    """Every resource in ``items``: Bundles are opened (entries, nested bundles)."""
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
            notes.append(f"an item that is not a FHIR resource was skipped ({type(item).__name__})")
            continue
        if item["resourceType"] == "Bundle":
            entries = item.get("entry") or []
            yield from flatten(
                (e.get("resource") for e in entries if isinstance(e, dict) and e.get("resource")),
                notes,
            )
        else:
            yield item


def ref_of(resource: Json) -> str:
    """``Condition/abc`` (``Condition/?`` when the resource has no id)."""
    return f"{resource.get('resourceType')}/{resource.get('id') or '?'}"


def ref_id(reference: Any, resource_type: str) -> str | None:
    """The id in a Reference to ``resource_type`` (``Patient/123``, a full URL, or urn)."""
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    if not isinstance(text, str):
        return None
    parts = text.rstrip("/").split("/")
    # .../Patient/123 or .../Patient/123/_history/2
    for i in range(len(parts) - 1):
        if parts[i] == resource_type:
            return parts[i + 1]
    return None


@dataclass(frozen=True, slots=True)
class Moment:
    """A FHIR date or dateTime read to the day; ``precision`` is year, month or day."""

    day: date
    precision: str
    text: str

    def weeks_before(self, today: date) -> float:
        return round((today - self.day).days / 7.0, 1)


def moment(value: Any) -> Moment | None:
    """Read ``2024``, ``2024-11``, ``2024-11-20`` or a dateTime; a partial date counts from its
    first day (so weeks since it are an upper bound), and the caller says so."""
    return _moment(value) if isinstance(value, str) else None


@lru_cache(maxsize=8192)  # dates repeat across a population; Moment is immutable
def _moment(value: str) -> Moment | None:
    match = _DATE.match(value.strip())
    if not match:
        return None
    year, month, day = match.groups()
    try:
        parsed = date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    precision = "day" if day else ("month" if month else "year")
    return Moment(parsed, precision, value)


def codings(concept: Any) -> list[Json]:
    """The codings of a CodeableConcept (none when it is missing or malformed)."""
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def concept_text(concept: Any) -> str:
    """What a person would read: ``text``, else the first coding's display, else its code."""
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return str(concept["text"]).strip()
    for coding in codings(concept):
        for key in ("display", "code"):
            if isinstance(coding.get(key), str) and coding[key].strip():
                return str(coding[key]).strip()
    return ""


def status_code(concept: Any) -> str | None:
    """The code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    for coding in codings(concept):
        if isinstance(coding.get("code"), str):
            return str(coding["code"]).lower()
    return None
