"""The fixture patients (tests/data/fhir) map to exactly these cases, and assess sensibly."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from spinecds import KnowledgeBase, assess, parse_case
from spinecds.fhir import case_from_resources

DATA = Path(__file__).resolve().parent / "data" / "fhir"
TODAY = date(2026, 11, 21)


def bundle(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return data


EXPECTED: dict[str, dict[str, Any]] = {
    # Seed 001: two years after C5-C6 ACDF, a month of neck pain and right-arm tingling;
    # red flags asked about and denied (review-of-systems answers, a refuted cancer history).
    "p-acdf-001": {
        "id": "p-acdf-001",
        "age": 58,
        "sex": "male",
        "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "weeks_ago": 104.4}],
        "complaint": ["neck_pain", "radiculopathy"],
        "symptom_weeks": 4.0,
        "findings": {
            "arm_paresthesia": True,
            "cancer_history": False,
            "chills": False,
            "fever": False,
            "night_pain": False,
            "night_sweats": False,
            "progressive_neurologic_deficit": False,
            "recent_trauma": False,
            "unexplained_weight_loss": False,
            "wound_erythema": False,
        },
    },
    # Three weeks after a C5-C7 ACDF (primary code, add-on code and a discectomy code that
    # only joins the fusion); fever, wound drainage, raised CRP/ESR/WBC.
    "p-infection-002": {
        "id": "p-infection-002",
        "age": 64,
        "sex": "female",
        "surgeries": [{"procedure": "acdf", "levels": ["C5-C6", "C6-C7"], "weeks_ago": 3.3}],
        "complaint": ["neck_pain"],
        "symptom_weeks": 1.0,
        "findings": {
            "crp_elevated": True,
            "diabetes": True,
            "esr_elevated": True,
            "fever": True,
            "wbc_elevated": True,
            "wound_drainage": True,
        },
    },
    # Five years after C4-C5 posterior fusion; a pacemaker, an iodinated contrast allergy,
    # and flexion-extension films showing instability, with a non-union linked to them.
    "p-pacer-003": {
        "id": "p-pacer-003",
        "age": 71,
        "sex": "female",
        "surgeries": [
            {"procedure": "posterior_cervical_fusion", "levels": ["C4-C5"], "weeks_ago": 283.6}
        ],
        "complaint": ["radiculopathy"],
        "symptom_weeks": 11.6,
        "findings": {"iodinated_contrast_allergy": True, "mri_contraindicated": True},
        "imaging": [
            {
                "study": "radiography_flexion_extension",
                "region": "cervical",
                "weeks_ago": 2.0,
                "findings": {"instability_on_flexion_extension": True, "pseudarthrosis": True},
            }
        ],
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_patient_maps_to_the_expected_case(kb: KnowledgeBase, name: str) -> None:
    mapped = case_from_resources([bundle(name)], today=TODAY, kb=kb)
    assert mapped.case == EXPECTED[name]
    assert mapped.patient_id == name
    # Every field of the case names where it came from.
    for key in ("age", "sex", "surgeries[0]", "complaint[0]", "symptom_weeks"):
        assert mapped.provenance[key], key
    for finding in EXPECTED[name]["findings"]:
        assert mapped.provenance[f"findings.{finding}"], finding
    parse_case(mapped.case, kb.vocabulary, kb.procedures)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_false_gives_the_same_case(kb: KnowledgeBase, name: str) -> None:
    checked = case_from_resources([bundle(name)], today=TODAY, kb=kb, validate=True)
    trusted = case_from_resources([bundle(name)], today=TODAY, kb=kb, validate=False)
    assert trusted.case == checked.case
    assert trusted.provenance == checked.provenance
    assert trusted.unmapped == checked.unmapped


def _assess(kb: KnowledgeBase, name: str) -> dict[str, Any]:
    mapped = case_from_resources([bundle(name)], today=TODAY, kb=kb)
    result: dict[str, Any] = assess(
        parse_case(mapped.case, kb.vocabulary, kb.procedures), kb
    ).to_json_dict()
    return result


def test_seed_001_gets_radiographs_first_without_red_flags(kb: KnowledgeBase) -> None:
    out = _assess(kb, "p-acdf-001")
    assert out["pathway"] == "post_surgical_no_red_flags"
    assert out["urgency"] == "routine"
    assert out["next_imaging"][0] == "Radiography cervical spine"


def test_postoperative_infection_is_routed_to_the_infection_pathway(kb: KnowledgeBase) -> None:
    out = _assess(kb, "p-infection-002")
    assert out["pathway"] == "suspected_infection"
    assert out["urgency"] in ("urgent", "emergency")
    assert any("contrast" in study for study in out["next_imaging"])


def test_pacemaker_and_contrast_allergy_keep_mri_and_contrast_out(kb: KnowledgeBase) -> None:
    out = _assess(kb, "p-pacer-003")
    assert out["pathway"] == "post_surgical_no_red_flags"
    assert out["referral"] != "none"  # instability after fusion goes to a surgeon
    assert not any(study.startswith("MRI") for study in out["next_imaging"])
    assert not any("with IV contrast" in study for study in out["next_imaging"])


def test_what_is_not_understood_is_reported(kb: KnowledgeBase) -> None:
    acdf = case_from_resources([bundle("p-acdf-001")], today=TODAY, kb=kb)
    assert any("MedicationRequest" in note for note in acdf.unmapped)
    infection = case_from_resources([bundle("p-infection-002")], today=TODAY, kb=kb)
    assert infection.diagnoses == {"infection": ["Condition/ssi"]}
    assert any("hs-CRP" in note for note in infection.unmapped)
    assert any(
        "Observation/esr-2023" in note and "superseded" in note for note in infection.unmapped
    )
    pacer = case_from_resources([bundle("p-pacer-003")], today=TODAY, kb=kb)
    assert any("Penicillin" in note for note in pacer.unmapped)
    assert any("83561009" in note for note in pacer.unmapped)  # cervical stenosis: a caution
    assert pacer.diagnoses == {"pseudarthrosis": ["Condition/nonunion"]}


def test_text_matches_say_so_in_provenance(kb: KnowledgeBase) -> None:
    mapped = case_from_resources([bundle("p-acdf-001")], today=TODAY, kb=kb)
    assert mapped.provenance["findings.recent_trauma"] == [
        "Observation/ros-trauma (text match: 'Recent trauma')"
    ]
    assert mapped.provenance["findings.cancer_history"] == ["Condition/no-cancer"]  # by code
    pacer = case_from_resources([bundle("p-pacer-003")], today=TODAY, kb=kb)
    assert pacer.provenance["findings.mri_contraindicated"][0].startswith(
        "Device/pacemaker (text match:"
    )


def test_resources_may_come_loose_or_in_several_bundles(kb: KnowledgeBase) -> None:
    whole = bundle("p-acdf-001")
    loose = [e["resource"] for e in whole["entry"]]
    half = len(loose) // 2
    split = [
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in loose[:half]],
        },
        *loose[half:],
        copy.deepcopy(loose[0]),  # the same resource twice (prefetch and context) counts once
    ]
    assert case_from_resources(split, today=TODAY, kb=kb).case == EXPECTED["p-acdf-001"]


def test_time_since_surgery_follows_today(kb: KnowledgeBase) -> None:
    later = case_from_resources([bundle("p-acdf-001")], today=date(2027, 11, 20), kb=kb)
    assert later.case["surgeries"][0]["weeks_ago"] == round(
        (date(2027, 11, 20) - date(2024, 11, 20)).days / 7, 1
    )
    assert later.case["age"] == 59
