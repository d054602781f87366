"""Imaging orders (R4 ServiceRequests) to ACR procedure names; other orders are not errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spinecds import KnowledgeBase, assess, parse_case
from spinecds.fhir import FhirInputError, order_from_service_request, orders_from_resources

DATA = Path(__file__).resolve().parent / "data" / "fhir"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"


def order(code: Any = None, id: str = "sr1", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        **extra,
    }
    if code is not None:
        res["code"] = code
    return res


def coded(*codings: tuple[str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": s, "code": c} for s, c in codings]}
    if text:
        out["text"] = text
    return out


@pytest.mark.parametrize(
    ("codings", "procedure"),
    [
        ([(CPT, "72141")], "MRI cervical spine without IV contrast"),
        ([(CPT, "72156")], "MRI cervical spine without and with IV contrast"),
        ([(LOINC, "24945-8")], "Radiography cervical spine flexion extension lateral views"),
        ([(CPT, "72125")], "CT cervical spine without IV contrast"),
        ([(CPT, "72148")], "MRI lumbar spine without IV contrast"),
        # CPT 72126 is CT with IV contrast or a CT myelogram: the LOINC term settles it.
        ([(CPT, "72126"), (LOINC, "24934-2")], "CT myelography cervical spine"),
    ],
)
def test_imaging_order_maps_to_its_acr_procedure(
    kb: KnowledgeBase, codings: list[tuple[str, str]], procedure: str
) -> None:
    mapped = order_from_service_request(order(coded(*codings)), kb)
    assert mapped.is_imaging
    assert mapped.procedure == procedure
    assert procedure.lower() in kb.procedures
    assert mapped.resource_id == "sr1"
    assert mapped.patient_id == "p1"
    assert mapped.codes == tuple(f"{s}|{c}" for s, c in codings)


def test_ambiguous_imaging_code_lists_candidates(kb: KnowledgeBase) -> None:
    mapped = order_from_service_request(order(coded((CPT, "72126"))), kb)
    assert mapped.is_imaging
    assert mapped.procedure is None
    assert mapped.candidates == (
        "CT cervical spine with IV contrast",
        "CT myelography cervical spine",
    )
    assert mapped.region == "cervical"


def test_region_of_a_generic_code_comes_from_body_site(kb: KnowledgeBase) -> None:
    plain = order_from_service_request(order(coded((CPT, "72020"))), kb)
    assert plain.procedure is None
    assert plain.study == "radiography"
    sited = order_from_service_request(
        order(coded((CPT, "72020")), bodySite=[{"text": "Lumbar spine"}]), kb
    )
    assert sited.procedure == "Radiography lumbar spine"
    assert sited.how == "code and bodySite/code text"


@pytest.mark.parametrize(
    ("code", "valid_r4"),
    [(None, True), ({"coding": []}, True), ({"coding": [{}]}, False), ({"text": ""}, False)],
)
def test_order_without_a_usable_code_is_not_an_error(
    kb: KnowledgeBase, code: Any, valid_r4: bool
) -> None:
    # Empty strings are not valid R4, so only a trusted export (validate=False) has them.
    mapped = order_from_service_request(order(code), kb, validate=valid_r4)
    assert not mapped.is_imaging
    assert mapped.procedure is None
    assert mapped.notes == ("no code or text",)


def test_order_named_by_its_acr_procedure_in_text(kb: KnowledgeBase) -> None:
    mapped = order_from_service_request(
        order({"text": "MRI cervical spine without IV contrast"}), kb
    )
    assert mapped.procedure == "MRI cervical spine without IV contrast"
    assert mapped.how == "text"
    vague = order_from_service_request(order({"text": "MRI C-spine please"}), kb)
    assert vague.is_imaging
    assert vague.procedure is None
    assert vague.region == "cervical"


def test_lab_order_is_not_imaging(kb: KnowledgeBase) -> None:
    mapped = order_from_service_request(order(coded((LOINC, "58410-2"))), kb)
    assert not mapped.is_imaging
    assert mapped.notes == ("not an imaging order",)


def test_r5_service_request_is_rejected_with_the_field(kb: KnowledgeBase) -> None:
    r5 = order({"concept": {"coding": [{"system": CPT, "code": "72141"}]}})
    with pytest.raises(FhirInputError) as err:
        order_from_service_request(r5, kb)
    assert any("code.concept" in p.field and "R4" in p.problem for p in err.value.problems)


def test_orders_from_resources_finds_every_imaging_order(kb: KnowledgeBase) -> None:
    bundles = [json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))]
    rejects: list[str] = []
    r5 = order({"concept": {"coding": [{"system": CPT, "code": "72141"}]}}, id="r5")
    found = orders_from_resources([*bundles, r5], kb, rejects=rejects)
    assert [(o.resource_id, o.procedure) for o in found] == [
        ("order-mri", "MRI cervical spine without IV contrast"),
        ("order-mri-contrast", "MRI cervical spine without and with IV contrast"),
        ("order-ct-myelo", None),
    ]  # the CBC order and the MedicationRequest are not imaging orders
    assert len(rejects) == 1
    assert rejects[0].startswith("ServiceRequest/r5")
    assert orders_from_resources([*bundles, r5], kb, validate=False)[:3] == found


def test_an_order_is_reviewed_for_the_mapped_case(kb: KnowledgeBase) -> None:
    from datetime import date

    from spinecds.fhir import case_from_resources

    bundle = json.loads((DATA / "p-acdf-001.json").read_text())
    mapped = case_from_resources([bundle], today=date(2026, 11, 21), kb=kb)
    (mri,) = orders_from_resources([bundle], kb)
    case = parse_case(
        {**mapped.case, "proposed_order": mri.procedure}, kb.vocabulary, kb.procedures
    )
    review = assess(case, kb).to_json_dict()["order_review"]
    assert review["order"] == "MRI cervical spine without IV contrast"
    assert review["verdict"] in ("appropriate", "consider_alternative")
