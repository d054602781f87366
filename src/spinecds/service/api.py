"""The REST API: assess a case, read an audited assessment, vocabulary and knowledge."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from spinecds.case import CaseIn
from spinecds.render import render
from spinecds.service.errors import ServiceError
from spinecds.service.runner import RunnerDep

__all__ = ["router"]

router = APIRouter()

_CASE_SCHEMA = CaseIn.model_json_schema(ref_template="#/components/schemas/{model}")
_CASE_EXAMPLE = {
    "id": "example",
    "age": 58,
    "sex": "male",
    "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2}],
    "complaint": ["neck_pain", "radiculopathy"],
    "symptom_weeks": 4,
    "course": "increasing",
    "findings": {"arm_paresthesia": True, "recent_trauma": False, "fever": False},
}


class Audience(StrEnum):
    clinician = "clinician"
    patient = "patient"


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/api/assess",
    tags=["assessment"],
    summary="Assess one case",
    response_description="The assessment (clinician) or the plain-language handout (patient).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"example": _CASE_EXAMPLE}},
        }
    },
    responses={422: {"description": "A field is wrong: its path, the problem and the fix."}},
)
def assess_case(
    request: Request,
    runner: RunnerDep,
    case: Annotated[dict[str, Any], Body()],
    audience: Annotated[Audience, Query(description="Who reads the answer.")] = Audience.clinician,
) -> JSONResponse:
    """A case in the public case format in; the cited assessment out, stored in the audit log.

    The answer's ``id`` fetches it again from ``GET /api/assessments/{id}`` and is the
    report page ``/report/{id}``.
    """
    result = runner.run(case, interface="rest", client=_client(request))
    body: dict[str, Any] = {"id": result.record_id, "report_url": f"/report/{result.record_id}"}
    if audience is Audience.patient:
        body["audience"] = "patient"
        body["handout"] = render(result.assessment, runner.kb, "markdown", "patient")
        body["handout_pdf_url"] = f"/report/{result.record_id}/handout.pdf"
    else:
        body["audience"] = "clinician"
        body["assessment"] = result.output
    return JSONResponse(body)


@router.get("/api/assessments/{record_id}", tags=["assessment"], summary="A stored assessment")
def get_assessment(record_id: str, runner: RunnerDep) -> dict[str, Any]:
    """The audited input and output of one assessment, with where and when it was made."""
    record = runner.get(record_id)
    if record is None:
        raise ServiceError(404, f"No assessment with id {record_id!r}.")
    return {
        "id": record.id,
        "interface": record.interface,
        "service": record.service,
        "started_at": record.started_at.isoformat(),
        "duration_ms": record.duration_ms,
        "knowledge_version": record.knowledge_version,
        "input": record.input,
        "output": record.output,
    }


@router.get("/api/vocabulary", tags=["knowledge"], summary="Terms a case may use")
def vocabulary(
    runner: RunnerDep,
    kind: Annotated[str | None, Query(description="Only this kind, e.g. finding.")] = None,
) -> dict[str, Any]:
    vocab = runner.kb.vocabulary
    if kind is not None and kind not in vocab.kinds():
        raise ServiceError(
            404, f"No vocabulary kind {kind!r}; kinds are: {', '.join(vocab.kinds())}."
        )
    terms = [
        {"kind": t.kind, "id": t.id, "label": t.label, "plain": t.plain, "origin": t.origin}
        for t in vocab
        if kind is None or t.kind == kind
    ]
    return {"knowledge_version": runner.kb.version, "kinds": vocab.kinds(), "terms": terms}


@router.get("/api/knowledge", tags=["knowledge"], summary="Knowledge version and sources")
def knowledge(runner: RunnerDep) -> dict[str, Any]:
    """What the answers rest on: version, change history, ACR revisions, references."""
    kb = runner.kb
    return {
        "knowledge_version": kb.version,
        "changes": [change.model_dump(mode="json") for change in kb.manifest.changes],
        "caveats": kb.manifest.caveats,
        "unsourced": kb.manifest.unsourced,
        "acr": [
            {
                "key": topic.key,
                "topic": topic.topic,
                "revision_year": topic.revision_year,
                "superseded": topic.superseded,
                "source": topic.source.title,
                "url": topic.source.url,
                "variants": len(topic.variants),
            }
            for topic in kb.topics.values()
        ],
        "references": [
            {"id": ref.id, "title": ref.title, "year": ref.year, "doi": ref.doi, "url": ref.url}
            for ref in kb.references.values()
        ],
    }


@router.get("/healthz", tags=["knowledge"], summary="Liveness and database check")
def healthz(runner: RunnerDep) -> JSONResponse:
    try:
        runner.store.check()
    except Exception:  # any database failure means "not ready", never a 500
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "knowledge_version": runner.kb.version, "database": "ok"})


def document_case_schema(openapi: dict[str, Any]) -> None:
    """Put the case model into the OpenAPI document as the assess endpoint's body.

    The endpoint reads a plain JSON object (so vocabulary errors get our own messages, not
    pydantic's); the document still shows clients the exact shape a case has.
    """
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_CASE_SCHEMA.get("$defs", {}))
    schemas["Case"] = {k: v for k, v in _CASE_SCHEMA.items() if k != "$defs"}
    body = openapi["paths"]["/api/assess"]["post"]["requestBody"]["content"]
    body["application/json"]["schema"] = {"$ref": "#/components/schemas/Case"}
