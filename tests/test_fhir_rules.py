"""Unknown is not absent: what the record does and does not say, read resource by resource."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from spinecds import KnowledgeBase
from spinecds.fhir import case_from_resources

TODAY = date(2026, 11, 21)
LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
LOCAL = "http://clinic.example.org/fhir/CodeSystem/local-findings"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1960-05-05"}
SURGERY = {
    "resourceType": "Procedure",
    "id": "op",
    "status": "completed",
    "code": {"coding": [{"system": CPT, "code": "22551"}]},
    "subject": {"reference": "Patient/p1"},
    "performedDateTime": "2024-11-20",
}


def status(kind: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": f"http://terminology.hl7.org/CodeSystem/{kind}", "code": code}]}


def condition(
    text: str, id: str = "c1", ver: str | None = None, clinical: str | None = None, **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": id,
        "code": {"coding": [{"system": LOCAL, "code": id.upper()}], "text": text},
        "subject": {"reference": "Patient/p1"},
        **extra,
    }
    if ver:
        res["verificationStatus"] = status("condition-ver-status", ver)
    if clinical:
        res["clinicalStatus"] = status("condition-clinical", clinical)
    return res


def observation(text: str, id: str = "o1", **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id,
        "status": value.pop("status", "final"),
        "code": {"text": text},
        "subject": {"reference": "Patient/p1"},
        **value,
    }


def lab(
    code: str,
    id: str,
    when: str,
    value: float | None = None,
    high: float | None = None,
    interp: str | None = None,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
    }
    if value is not None:
        res["valueQuantity"] = {
            "value": value,
            "unit": "mg/L",
            "system": "http://unitsofmeasure.org",
            "code": "mg/L",
        }
    if high is not None:
        res["referenceRange"] = [
            {
                "high": {
                    "value": high,
                    "unit": "mg/L",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg/L",
                }
            }
        ]
    if interp:
        res["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": interp,
                    }
                ]
            }
        ]
    return res


def findings(kb: KnowledgeBase, *resources: dict[str, Any]) -> dict[str, Any]:
    out = case_from_resources([PATIENT, SURGERY, *resources], today=TODAY, kb=kb)
    found: dict[str, Any] = out.case.get("findings", {})
    return found


def notes(kb: KnowledgeBase, *resources: dict[str, Any]) -> list[str]:
    return case_from_resources([PATIENT, SURGERY, *resources], today=TODAY, kb=kb).unmapped


def test_silence_asserts_nothing(kb: KnowledgeBase) -> None:
    out = case_from_resources([PATIENT, SURGERY], today=TODAY, kb=kb)
    assert "findings" not in out.case
    assert out.case["complaint"] == []


@pytest.mark.parametrize(
    ("ver", "clinical", "expected"),
    [
        (None, None, {"fever": True}),
        ("confirmed", "active", {"fever": True}),
        ("refuted", None, {"fever": False}),
        ("refuted", "active", {"fever": False}),
        ("provisional", "active", {}),
        ("unconfirmed", "active", {}),
        ("differential", "active", {}),
        ("entered-in-error", None, {}),
        ("confirmed", "resolved", {}),
        ("confirmed", "inactive", {}),
    ],
)
def test_condition_status_decides_present_absent_or_unknown(
    kb: KnowledgeBase, ver: str | None, clinical: str | None, expected: dict[str, bool]
) -> None:
    assert findings(kb, condition("Fever", ver=ver, clinical=clinical)) == expected


def test_a_past_cancer_is_still_a_cancer_history(kb: KnowledgeBase) -> None:
    cancer = condition("x", clinical="resolved")
    cancer["code"] = {"coding": [{"system": ICD, "code": "Z85.3"}]}
    assert findings(kb, cancer) == {"cancer_history": True}


def test_tentative_and_past_statements_are_reported(kb: KnowledgeBase) -> None:
    said = notes(
        kb, condition("Fever", ver="provisional"), condition("Chills", id="c2", clinical="resolved")
    )
    assert any("Condition/c1" in n and "provisional" in n for n in said)
    assert any("Condition/c2" in n and "resolved" in n for n in said)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueBoolean": True}, {"fever": True}),
        ({"valueBoolean": False}, {"fever": False}),
        ({"valueCodeableConcept": {"text": "Yes"}}, {"fever": True}),
        (
            {"valueCodeableConcept": {"coding": [{"system": LOCAL, "code": "N", "display": "No"}]}},
            {"fever": False},
        ),
        ({"valueCodeableConcept": {"text": "Unsure"}}, {}),
        (
            {
                "interpretation": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                "code": "NEG",
                            }
                        ]
                    }
                ]
            },
            {"fever": False},
        ),
        ({}, {"fever": True}),  # an observation that is the finding itself
        ({"dataAbsentReason": {"text": "Asked but unknown"}}, {}),
        ({"valueString": "pt not sure"}, {}),
        ({"valueBoolean": True, "status": "entered-in-error"}, {}),
        ({"valueBoolean": True, "status": "registered"}, {}),
    ],
)
def test_observation_value_decides_present_absent_or_unknown(
    kb: KnowledgeBase, value: dict[str, Any], expected: dict[str, bool]
) -> None:
    assert findings(kb, observation("Fever", **value)) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"value": 40, "high": 10}, {"crp_elevated": True}),
        ({"value": 4, "high": 10}, {"crp_elevated": False}),
        (
            {"value": 4, "high": 10, "interp": "H"},
            {"crp_elevated": True},
        ),  # the lab's own call wins
        ({"value": 40, "interp": "N"}, {"crp_elevated": False}),
        ({"value": 40}, {}),  # no range, no interpretation: says nothing
        ({}, {}),
    ],
)
def test_lab_high_or_not_by_its_own_interpretation_or_range(
    kb: KnowledgeBase, kwargs: dict[str, Any], expected: dict[str, bool]
) -> None:
    assert findings(kb, lab("1988-5", "crp", "2026-11-20", **kwargs)) == expected


def test_latest_lab_result_wins(kb: KnowledgeBase) -> None:
    old = lab("4537-7", "esr-old", "2026-10-01", value=50, high=20)
    new = lab("4537-7", "esr-new", "2026-11-20", value=10, high=20)
    assert findings(kb, new, old) == {"esr_elevated": False}
    assert findings(kb, old, new) == {"esr_elevated": False}


def test_lab_before_the_episode_asserts_nothing(kb: KnowledgeBase) -> None:
    pain = {
        "resourceType": "Condition",
        "id": "pain",
        "code": {"coding": [{"system": ICD, "code": "M54.2"}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2026-11-01",
    }
    old = lab("4537-7", "esr-old", "2026-06-01", value=50, high=20)
    assert findings(kb, pain, old) == {}
    assert any("Observation/esr-old" in n and "predates" in n for n in notes(kb, pain, old))


def test_present_wins_over_absent_and_the_conflict_is_reported(kb: KnowledgeBase) -> None:
    denied = observation("Fever", id="o1", valueBoolean=False)
    present = condition("Fever", id="c9")
    assert findings(kb, denied, present) == {"fever": True}
    assert any(
        "findings.fever" in n and "present was kept" in n for n in notes(kb, denied, present)
    )


def test_contrast_allergy_refuted_and_unclear(kb: KnowledgeBase) -> None:
    def allergy(text: str, ver: str | None = None, id: str = "a1") -> dict[str, Any]:
        res: dict[str, Any] = {
            "resourceType": "AllergyIntolerance",
            "id": id,
            "code": {"text": text},
            "patient": {"reference": "Patient/p1"},
        }
        if ver:
            res["verificationStatus"] = status("allergyintolerance-verification", ver)
        return res

    assert findings(kb, allergy("Iohexol")) == {"iodinated_contrast_allergy": True}
    assert findings(kb, allergy("Iodinated contrast media", ver="refuted")) == {
        "iodinated_contrast_allergy": False
    }
    assert findings(kb, allergy("Gadolinium-based contrast agent")) == {
        "gadolinium_contraindicated": True
    }
    assert findings(kb, allergy("Contrast dye")) == {}
    assert any("which contrast agent" in n for n in notes(kb, allergy("Contrast dye")))


def test_mr_conditional_pacemaker_asserts_nothing(kb: KnowledgeBase) -> None:
    device = {
        "resourceType": "Device",
        "id": "d1",
        "status": "active",
        "type": {"text": "Cardiac pacemaker"},
        "safety": [{"text": "MR Conditional"}],
        "patient": {"reference": "Patient/p1"},
    }
    assert findings(kb, device) == {}
    assert findings(kb, {**device, "safety": []}) == {"mri_contraindicated": True}
    assert findings(kb, {**device, "safety": [], "status": "inactive"}) == {}


def test_no_operation_on_record_leaves_surgeries_out(kb: KnowledgeBase) -> None:
    out = case_from_resources([PATIENT], today=TODAY, kb=kb)
    assert "surgeries" not in out.case
    assert any("never operated" in n for n in out.unmapped)
    complete = case_from_resources([PATIENT], today=TODAY, kb=kb, procedures_complete=True)
    assert complete.case["surgeries"] == []


def test_resources_of_another_patient_are_not_read(kb: KnowledgeBase) -> None:
    other = {**condition("Fever", id="c7"), "subject": {"reference": "Patient/someone-else"}}
    out = case_from_resources([PATIENT, SURGERY, other], today=TODAY, kb=kb)
    assert "findings" not in out.case
    assert any("Condition/c7 is about Patient/someone-else" in n for n in out.unmapped)


def test_patient_id_comes_from_references_when_no_patient_resource(kb: KnowledgeBase) -> None:
    out = case_from_resources([SURGERY], today=TODAY, kb=kb)
    assert out.patient_id == "p1"
    assert "age" not in out.case


def test_r5_fields_are_rejected_and_reported(kb: KnowledgeBase) -> None:
    # R5 Procedure uses occurrence[x]; R4 has performed[x].
    r5 = {**SURGERY, "id": "op5", "occurrenceDateTime": "2024-11-20"}
    del r5["performedDateTime"]
    out = case_from_resources([PATIENT, r5], today=TODAY, kb=kb)
    assert "surgeries" not in out.case
    assert any(
        "Procedure/op5 is not valid FHIR R4" in n and "occurrenceDateTime" in n
        for n in out.unmapped
    )


def test_partial_and_missing_dates(kb: KnowledgeBase) -> None:
    month = {**SURGERY, "performedDateTime": "2024-11"}
    out = case_from_resources([PATIENT, month], today=TODAY, kb=kb)
    assert out.case["surgeries"][0]["weeks_ago"] == round((TODAY - date(2024, 11, 1)).days / 7, 1)
    assert any("to the month" in n for n in out.unmapped)
    undated = {k: v for k, v in SURGERY.items() if k != "performedDateTime"}
    out = case_from_resources([PATIENT, undated], today=TODAY, kb=kb)
    assert out.case["surgeries"] == [{"procedure": "acdf"}]
    assert any("no performed date" in n for n in out.unmapped)


def test_not_completed_procedures_are_not_operations(kb: KnowledgeBase) -> None:
    planned = {**SURGERY, "status": "preparation"}
    out = case_from_resources([PATIENT, planned], today=TODAY, kb=kb)
    assert "surgeries" not in out.case
    assert any("preparation" in n for n in out.unmapped)


def test_imaging_finding_without_a_report_is_not_placed(kb: KnowledgeBase) -> None:
    nonunion = {
        "resourceType": "Condition",
        "id": "nu",
        "code": {"coding": [{"system": ICD, "code": "M96.0"}]},
        "subject": {"reference": "Patient/p1"},
    }
    out = case_from_resources([PATIENT, SURGERY, nonunion], today=TODAY, kb=kb)
    assert "imaging" not in out.case
    assert out.diagnoses == {"pseudarthrosis": ["Condition/nu"]}
    assert any("names no imaging report" in n for n in out.unmapped)
