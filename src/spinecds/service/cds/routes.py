"""CDS Hooks 2.0 endpoints: discovery, the three services and feedback.

Per call: verify the EHR's JWT, gather the prefetch (fetching what the EHR left out,
within the time budget, or answering 412), map FHIR R4 to a case, assess through the
shared runner (audited), and answer with cards and ``systemActions``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from spinecds.config import Settings
from spinecds.errors import CaseError
from spinecds.fhir import PREFETCH, PrefetchError, case_from_resources, fetch_missing_prefetch
from spinecds.service.cds import orders
from spinecds.service.cds.cards import CardFactory, patient_view_card
from spinecds.service.cds.config import ServiceDef, cds_config
from spinecds.service.cds.models import FeedbackRequest, HookRequest
from spinecds.service.errors import ServiceError
from spinecds.service.runner import Runner, RunnerDep
from spinecds.service.security import AuthError, JwtVerifier
from spinecds.store import NewFeedback

__all__ = ["router"]

log = logging.getLogger("spinecds.service")
router = APIRouter(tags=["cds-hooks"])


@router.get("/cds-services", summary="CDS Hooks discovery")
def discovery() -> dict[str, Any]:
    """The services, each with the prefetch templates it wants filled."""
    return {
        "services": [
            {
                "hook": svc.hook,
                "id": svc.id,
                "title": svc.title,
                "description": svc.description,
                "prefetch": {key: PREFETCH[key] for key in svc.prefetch},
                "usageRequirements": svc.usage,
            }
            for svc in cds_config().services
        ]
    }


@router.post("/cds-services/{service_id}", summary="Call a CDS Hooks service")
async def call_service(
    service_id: str, body: HookRequest, request: Request, runner: RunnerDep
) -> JSONResponse:
    svc = _service(service_id)
    client = await _authenticate(request, service_id)
    if body.hook != svc.hook:
        raise ServiceError(400, f"Service {svc.id} answers the {svc.hook} hook, not {body.hook}.")
    resources = await _prefetch(body, svc, request.app.state.settings)
    # What follows is a few milliseconds of CPU work and one short SQLite or PostgreSQL
    # write. It runs on the event loop on purpose: handing it to the thread pool only made
    # requests of one worker contend for the GIL, which raised the tail latency.
    mapped = case_from_resources(resources, today=date.today(), kb=runner.kb)
    cards_for = CardFactory(cds_config(), runner.kb, request.app.state.settings.base_url)
    if svc.hook == "patient-view":
        answer = _patient_view(runner, mapped.case, client, svc, cards_for)
    else:
        answer = orders.review_orders(runner, mapped.case, body.context, svc, client, cards_for)
    return JSONResponse(answer)


@router.post("/cds-services/{service_id}/feedback", summary="Feedback on cards")
async def feedback(
    service_id: str, body: FeedbackRequest, request: Request, runner: RunnerDep
) -> dict[str, Any]:
    """Whether the clinician took a card's advice, or overrode it and why: stored."""
    svc = _service(service_id)
    client = await _authenticate(request, f"{service_id}/feedback")
    ids = []
    for item in body.feedback:
        reason = item.overrideReason.model_dump(mode="json") if item.overrideReason else None
        ids.append(
            runner.store.record_feedback(
                NewFeedback(
                    service_id=svc.id,
                    card_uuid=item.card,
                    outcome=item.outcome,
                    override_reason=reason,
                    accepted_suggestions=[s.id for s in item.acceptedSuggestions],
                    outcome_at=item.outcomeTimestamp.astimezone(UTC),
                    client=client,
                    raw=item.model_dump(mode="json"),
                )
            )
        )
    return {"stored": len(ids)}


def _service(service_id: str) -> ServiceDef:
    svc = cds_config().service(service_id)
    if svc is None:
        names = ", ".join(s.id for s in cds_config().services)
        raise ServiceError(404, f"No CDS service {service_id!r}; services are: {names}.")
    return svc


async def _authenticate(request: Request, endpoint: str) -> str | None:
    """The EHR's identity from its JWT, or the peer address when checks are off.

    The token's audience is the endpoint called, as the specification requires, so a
    token made for one service (or for feedback) opens nothing else.
    """
    verifier: JwtVerifier | None = request.app.state.verifier
    if verifier is None:
        return request.client.host if request.client else None
    settings: Settings = request.app.state.settings
    audience = f"{settings.base_url}/cds-services/{endpoint}"
    header = request.headers.get("authorization")
    try:
        verified = await run_in_threadpool(verifier.verify, header, audience=audience)
    except AuthError as exc:
        # The reason goes to our log only: telling a caller why its token failed helps
        # an attacker more than an honest client (the specification's advice).
        log.warning("CDS Hooks call to %s refused: %s", endpoint, exc.reason)
        raise ServiceError(
            401, "Not authorised.", {"WWW-Authenticate": exc.www_authenticate}
        ) from None
    return f"{verified.iss}#{verified.sub}" if verified.sub else verified.iss


async def _prefetch(body: HookRequest, svc: ServiceDef, settings: Settings) -> list[Any]:
    """The prefetched resources, with missing keys fetched from the EHR's FHIR server.

    Each missing key is fetched on its own, all at once within one time budget, so a
    failing optional key (devices, say) never costs a required one; a required key that
    cannot be had is a 412.
    """
    given = {k: v for k, v in (body.prefetch or {}).items() if k in svc.prefetch and v}
    missing = [key for key in svc.prefetch if key not in given]
    if missing and not body.fhirServer:
        lacking = [key for key in svc.required if key in missing]
        if lacking:
            raise ServiceError(
                412,
                "Required prefetch data is missing and no fhirServer was given to fetch it: "
                + ", ".join(lacking),
            )
    elif missing and body.fhirServer:
        token = body.fhirAuthorization.access_token if body.fhirAuthorization else None
        fetched = await asyncio.gather(
            *(
                fetch_missing_prefetch(
                    body.fhirServer, token, body.context, [key], settings.fhir_timeout_s
                )
                for key in missing
            ),
            return_exceptions=True,
        )
        for key, result in zip(missing, fetched, strict=True):
            if isinstance(result, PrefetchError):
                if key in svc.required:
                    raise ServiceError(412, f"Required data could not be fetched: {result}.")
                log.info("optional prefetch %s not fetched: %s", key, result)
            elif isinstance(result, BaseException):
                raise result
            else:
                given |= result
    return list(given.values())


def _patient_view(
    runner: Runner,
    case: dict[str, Any],
    client: str | None,
    svc: ServiceDef,
    cards_for: CardFactory,
) -> dict[str, Any]:
    """One card, for a patient whose record shows neck or arm symptoms; otherwise none."""
    if not case.get("complaint"):
        return {"cards": []}
    try:
        result = runner.run(case, interface="cds-hooks", client=client, service=svc.id)
    except CaseError as exc:
        log.info("patient-view: record not assessable: %s", exc.message)
        return {"cards": []}
    ctx = cards_for(result.record_id)
    return {"cards": [patient_view_card(result.assessment, ctx)]}
