"""Imaging orders (R4 ServiceRequests) -> the ACR procedure they ask for.

An order that is not imaging (a lab test, a referral) is not an error: ``is_imaging`` is
false. An imaging order whose code cannot be settled to one ACR procedure keeps
``procedure=None`` and lists the candidates, so the caller can say it cannot rate it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinecds.errors import CaseError
from spinecds.fhir.concepts import context_texts, lexicon
from spinecds.fhir.imaging import resolve_imaging
from spinecds.fhir.r4 import problems_of
from spinecds.fhir.resources import codings, concept_text, flatten
from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["FhirInputError", "MappedOrder", "order_from_service_request", "orders_from_resources"]


class FhirInputError(CaseError):
    """A resource that is not valid FHIR R4 (each problem names the field and the fix)."""


@dataclass(frozen=True)
class MappedOrder:
    resource_id: str | None
    procedure: str | None  # ACR procedure name, when the order settles on one
    is_imaging: bool
    codes: tuple[str, ...]  # every coding of the order as "system|code"
    text: str
    region: str | None
    study: str | None = None
    candidates: tuple[str, ...] = ()
    how: str = ""  # "code", "code and bodySite/code text", "text" or "" when not imaging
    patient_id: str | None = None
    notes: tuple[str, ...] = field(default=())


def order_from_service_request(
    sr: Mapping[str, Any], kb: KnowledgeBase, *, validate: bool = True
) -> MappedOrder:
    """Map one ServiceRequest. Raises :class:`FhirInputError` (validate=True) when it is not
    valid FHIR R4, e.g. an R5 ``code.concept``."""
    if validate:
        problems = problems_of(sr)
        if problems:
            raise FhirInputError("The order is not a valid FHIR R4 ServiceRequest.", problems)
    code = sr.get("code")
    all_codes = tuple(f"{c.get('system', '')}|{c['code']}" for c in codings(code) if c.get("code"))
    text = concept_text(code)
    subject = sr.get("subject") or {}
    patient = str(subject.get("reference", "")).rpartition("Patient/")[2] or None
    match = resolve_imaging(lexicon(kb), code, context_texts(sr, code))
    if match is None:
        note = "no code or text" if not (all_codes or text) else "not an imaging order"
        return MappedOrder(
            sr.get("id"), None, False, all_codes, text, None, patient_id=patient, notes=(note,)
        )
    notes: tuple[str, ...] = ()
    if match.procedure is None and match.candidates:
        notes = (f"may be {', '.join(match.candidates)}; the order does not say which",)
    elif match.procedure is None:
        notes = ("an imaging order whose code is not in the code map",)
    return MappedOrder(
        resource_id=sr.get("id"),
        procedure=match.procedure,
        is_imaging=True,
        codes=all_codes,
        text=text or (match.procedure or ""),
        region=match.region,
        study=match.study,
        candidates=match.candidates,
        how=match.how,
        patient_id=patient,
        notes=notes,
    )


def orders_from_resources(
    resources: Iterable[Any],
    kb: KnowledgeBase,
    *,
    validate: bool = True,
    rejects: list[str] | None = None,
) -> list[MappedOrder]:
    """Every imaging ServiceRequest among the resources (Bundles are opened). Orders that are
    not imaging are left out; invalid ones (validate=True) are described in ``rejects``."""
    out = []
    notes: list[str] = []
    for res in flatten(resources, notes):
        if res.get("resourceType") != "ServiceRequest":
            continue
        try:
            order = order_from_service_request(res, kb, validate=validate)
        except FhirInputError as exc:
            if rejects is not None:
                rejects.append(f"ServiceRequest/{res.get('id') or '?'}: {exc.problems[0]}")
            continue
        if order.is_imaging:
            out.append(order)
    if rejects is not None:
        rejects.extend(notes)
    return out
