"""order-select and order-sign: rate each spine imaging order in the draft orders.

Only imaging ``ServiceRequest``s whose code maps to an ACR procedure are rated; other
draft orders (a ``MedicationRequest``, a lab test) get no card and are not an error.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from spinecds.errors import CaseError
from spinecds.fhir import FhirInputError, order_from_service_request
from spinecds.fhir.codemap import code_map
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.service.cds.cards import CardFactory, order_card, order_label, summary_text
from spinecds.service.cds.config import ServiceDef
from spinecds.service.cds.pama import rating_action
from spinecds.service.runner import Runner

__all__ = ["review_orders"]

log = logging.getLogger("spinecds.service")


def review_orders(
    runner: Runner,
    case: dict[str, Any],
    context: Mapping[str, Any],
    svc: ServiceDef,
    client: str | None,
    cards_for: CardFactory,
) -> dict[str, Any]:
    cards: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for order in _orders_to_review(context, svc.hook):
        try:
            mapped = order_from_service_request(order, runner.kb)
        except FhirInputError as exc:  # not valid R4 (an R5 order, say): say so, rate nothing
            cards.append(_not_assessable_card(order, exc, cards_for))
            continue
        if not mapped.is_imaging or mapped.procedure is None:
            continue
        try:
            result = runner.run(
                {**case, "proposed_order": mapped.procedure},
                interface="cds-hooks",
                client=client,
                service=svc.id,
            )
        except CaseError as exc:
            cards.append(_not_assessable_card(order, exc, cards_for))
            continue
        ctx = cards_for(result.record_id)
        review = result.assessment.order_review
        assert review is not None  # noqa: S101 - the case carried a proposed order
        cards.append(order_card(result.assessment, order, ctx, _coding_for(runner)))
        actions.append(
            rating_action(
                order, review, ctx.cfg, result.record_id, ctx.source(result.assessment).get("url")
            )
        )
    return {"cards": cards, "systemActions": actions}


def _orders_to_review(context: Mapping[str, Any], hook: str) -> Iterator[Mapping[str, Any]]:
    """Draft ServiceRequests; for order-select only the newly selected ones."""
    bundle = context.get("draftOrders")
    entries = bundle.get("entry") if isinstance(bundle, Mapping) else None
    selections = context.get("selections")
    selected = {str(s) for s in selections} if isinstance(selections, list) else None
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "ServiceRequest":
            continue
        ref = f"ServiceRequest/{resource.get('id')}"
        if hook == "order-select" and selected is not None and ref not in selected:
            continue
        yield resource


# CPT first: the Argonaut imaging guide asks for it; LOINC and SNOMED CT next.
_SYSTEM_ORDER = ("http://www.ama-assn.org/go/cpt", "http://loinc.org", "http://snomed.info/sct")


def _coding_for(runner: Runner) -> Any:
    """The codes our code map holds for an ACR procedure (never invented), plus its name."""
    by_procedure = _procedure_codings(runner.kb)

    def coding_for(procedure: str) -> dict[str, Any]:
        return {"coding": by_procedure.get(procedure, [])[:1], "text": procedure}

    return coding_for


def _procedure_codings(kb: KnowledgeBase) -> dict[str, list[dict[str, str]]]:
    cached: dict[str, list[dict[str, str]]] | None = kb.engine.get("cds:procedure_codings")
    if cached is not None:
        return cached
    by_procedure: dict[str, list[dict[str, str]]] = {}
    for entry in code_map(kb).entries:
        if entry.kind != "imaging" or not entry.procedure or entry.prefix:
            continue
        if entry.ambiguous or entry.caution or entry.system not in _SYSTEM_ORDER:
            continue
        by_procedure.setdefault(entry.procedure, []).append(
            {"system": entry.system, "code": entry.code, "display": entry.display}
        )
    for codings in by_procedure.values():
        codings.sort(key=lambda c: _SYSTEM_ORDER.index(c["system"]))
    kb.engine["cds:procedure_codings"] = by_procedure
    return by_procedure


def _not_assessable_card(
    order: Mapping[str, Any], exc: CaseError, cards_for: CardFactory
) -> dict[str, Any]:
    """No rating without valid facts (Argonaut: no systemAction); say what is wrong."""
    cfg, base_url = cards_for.cfg, cards_for.base_url
    missing = "; ".join(p.problem for p in exc.problems[:3]) or exc.message
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary_text(f"{order_label(order)}: not rated, the record lacks key facts"),
        "detail": f"spinecds could not rate this order: {missing}. Enter the case on the "
        f"spinecds page to rate it.",
        "indicator": "info",
        "source": {"label": cfg.source_label},
        "links": [{"label": "Open spinecds", "url": f"{base_url}/", "type": "absolute"}],
    }
