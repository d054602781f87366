"""Codes are read only through the code map, by its conventions; text only when no code matches."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinecds import KnowledgeBase
from spinecds.fhir import case_from_resources
from spinecds.fhir.codemap import code_map

SHARED_CODES = Path(__file__).resolve().parents[2] / "shared" / "codes" / "codes.yaml"
TODAY = date(2026, 11, 21)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
LOCAL = "http://clinic.example.org/fhir/CodeSystem/local-findings"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"}


def condition(
    *codings: tuple[str, str], text: str | None = None, id: str = "c1", **extra: Any
) -> dict[str, Any]:
    code: dict[str, Any] = {"coding": [{"system": s, "code": c} for s, c in codings]}
    if text is not None:
        code["text"] = text
    return {
        "resourceType": "Condition",
        "id": id,
        "code": code,
        "subject": {"reference": "Patient/p1"},
        **extra,
    }


def procedure(
    *codings: tuple[str, str], site: str | None = None, id: str = "op1", day: str = "2025-11-22"
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": id,
        "status": "completed",
        "code": {"coding": [{"system": s, "code": c} for s, c in codings]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": day,
    }
    if site:
        res["bodySite"] = [{"text": site}]
    return res


def mapped(kb: KnowledgeBase, *resources: dict[str, Any]) -> Any:
    return case_from_resources([PATIENT, *resources], today=TODAY, kb=kb)


def test_the_code_map_is_the_shared_one(kb: KnowledgeBase) -> None:
    if not SHARED_CODES.exists():
        pytest.skip("../shared/codes is not beside this checkout")
    ours = (Path(str(kb.root)) / "fhir" / "codes.yaml").read_bytes()
    assert ours == SHARED_CODES.read_bytes()


def test_every_code_in_the_map_is_indexed(kb: KnowledgeBase) -> None:
    raw = yaml.safe_load((Path(str(kb.root)) / "fhir" / "codes.yaml").read_text())
    count = sum(len(g["codes"]) for g in raw["imaging_procedures"])
    count += sum(
        len(items)
        for section in ("surgeries", "conditions", "observations")
        for items in raw[section].values()
    )
    assert len(code_map(kb).entries) == count


@pytest.mark.parametrize("code", ["M54.12", "M5412", "m54.12", "m5412"])
def test_icd10_with_or_without_dot_any_case(kb: KnowledgeBase, code: str) -> None:
    out = mapped(kb, condition((ICD, code)))
    assert out.case["complaint"] == ["radiculopathy"]
    assert out.provenance["complaint[0]"] == ["Condition/c1"]


def test_a_code_with_spaces_is_not_valid_r4_but_a_trusted_export_still_maps(
    kb: KnowledgeBase,
) -> None:
    checked = mapped(kb, condition((ICD, " M54.12 ")))
    assert checked.case["complaint"] == []
    assert any("Condition/c1 is not valid FHIR R4" in n for n in checked.unmapped)
    trusted = case_from_resources(
        [PATIENT, condition((ICD, " M54.12 "))], today=TODAY, kb=kb, validate=False
    )
    assert trusted.case["complaint"] == ["radiculopathy"]


def test_icd10_system_uri_trailing_slash_is_tolerated(kb: KnowledgeBase) -> None:
    assert mapped(kb, condition((ICD + "/", "M54.2"))).case["complaint"] == ["neck_pain"]


@pytest.mark.parametrize(
    ("code", "finding"),
    [("Z85.3", "cancer_history"), ("Z853", "cancer_history"), ("Z85.46", "cancer_history")],
)
def test_prefix_entries_match_codes_below_them(kb: KnowledgeBase, code: str, finding: str) -> None:
    assert mapped(kb, condition((ICD, code))).case["findings"] == {finding: True}


def test_exact_match_wins_over_prefix(kb: KnowledgeBase) -> None:
    # M50.122 is listed exactly; M50.1 (category, prefix) would say the same term: one source.
    out = mapped(kb, condition((ICD, "M50.122")))
    assert out.case["complaint"] == ["radiculopathy"]


def test_a_code_of_another_system_does_not_match(kb: KnowledgeBase) -> None:
    out = mapped(kb, condition((SCT, "M54.2")))  # an ICD code under SNOMED's URI
    assert out.case["complaint"] == []
    assert any("Condition/c1" in n and "not in the code map" in n for n in out.unmapped)


def test_text_is_used_only_when_no_code_matches(kb: KnowledgeBase) -> None:
    # The text says fever, the code says neck pain: the code wins, the text is not read.
    out = mapped(kb, condition((ICD, "M54.2"), text="Fever"))
    assert out.case["complaint"] == ["neck_pain"]
    assert "findings" not in out.case
    # An unknown code with readable text: the text is used, and provenance says so.
    out = mapped(kb, condition((LOCAL, "X1"), text="Fever (finding)"))
    assert out.case["findings"] == {"fever": True}
    assert out.provenance["findings.fever"] == ["Condition/c1 (text match: 'Fever (finding)')"]


@pytest.mark.parametrize("text", ["No fever", "fever?", "History of fever in 2010", "afebrile"])
def test_text_matches_whole_phrases_only(kb: KnowledgeBase, text: str) -> None:
    out = mapped(kb, condition((LOCAL, "X1"), text=text))
    assert "findings" not in out.case
    assert any(text in n for n in out.unmapped)


def test_empty_coding_and_missing_code_are_reported_not_errors(kb: KnowledgeBase) -> None:
    out = mapped(
        kb,
        condition(),
        {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"}},
    )
    assert out.case["complaint"] == []
    assert sum("no code or text" in n for n in out.unmapped) == 2


def test_informational_codes_are_noted(kb: KnowledgeBase) -> None:
    out = mapped(kb, condition((ICD, "Z98.1")))
    assert any("Z98.1" in n and "fusion is on record" in n for n in out.unmapped)
    assert "surgeries" not in out.case  # not which operation: not asserted


def test_caution_entries_never_assert_alone(kb: KnowledgeBase) -> None:
    # M48.02: ICD does not separate central from foraminal stenosis.
    out = mapped(kb, condition((ICD, "M48.02")))
    assert "imaging" not in out.case
    assert any("M48.02" in n and "not used alone" in n for n in out.unmapped)
    # 63075 alone is a discectomy, ACDF only with a fusion code.
    out = mapped(kb, procedure((CPT, "63075"), site="C5-C6"))
    assert "surgeries" not in out.case
    assert any("63075" in n and "fusion code" in n for n in out.unmapped)


def test_caution_code_joins_the_operation_it_belongs_to(kb: KnowledgeBase) -> None:
    out = mapped(
        kb,
        procedure((CPT, "22551"), site="C5-C6"),
        procedure((CPT, "63076"), site="C6-C7", id="op2"),
    )
    assert out.case["surgeries"] == [
        {"procedure": "acdf", "levels": ["C5-C6", "C6-C7"], "weeks_ago": 52.0}
    ]
    assert out.provenance["surgeries[0]"] == ["Procedure/op1", "Procedure/op2 (with Procedure/op1)"]


def test_ambiguous_code_is_narrowed_by_body_site(kb: KnowledgeBase) -> None:
    # SNOMED 55705006 "Spinal arthrodesis": the region comes from bodySite.
    out = mapped(kb, procedure((SCT, "55705006"), site="L4-L5"))
    assert out.case["surgeries"] == [
        {"procedure": "lumbar_fusion", "levels": ["L4-L5"], "weeks_ago": 52.0}
    ]
    assert out.provenance["surgeries[0]"] == ["Procedure/op1 (narrowed by bodySite/code text)"]


def test_ambiguous_code_stays_unknown_without_more_data(kb: KnowledgeBase) -> None:
    # SNOMED 81099000 "Cervical arthrodesis": anterior or posterior is not said.
    out = mapped(kb, procedure((SCT, "81099000"), site="C5-C6"))
    assert "surgeries" not in out.case
    assert any("81099000" in n and "procedure:acdf" in n for n in out.unmapped)
    out = mapped(kb, procedure((SCT, "81099000"), site="C5-C6 anterior approach"))
    assert out.case["surgeries"][0]["procedure"] == "acdf"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("0RG10A0", "acdf"),
        ("0RG20A1", "posterior_cervical_fusion"),
        ("0RG107J", "posterior_cervical_fusion"),
    ],
)
def test_pcs_fusion_approach_from_the_seventh_character(
    kb: KnowledgeBase, code: str, expected: str
) -> None:
    assert mapped(kb, procedure((PCS, code))).case["surgeries"][0]["procedure"] == expected


def test_pcs_fusion_without_seventh_character_is_ambiguous(kb: KnowledgeBase) -> None:
    out = mapped(kb, procedure((PCS, "0RG1")))
    assert "surgeries" not in out.case
    assert any("0RG1" in n for n in out.unmapped)


def test_levels_of_another_region_are_left_out(kb: KnowledgeBase) -> None:
    out = mapped(kb, procedure((CPT, "22551"), site="C5-6 and L4-L5"))
    assert out.case["surgeries"][0]["levels"] == ["C5-C6"]
    assert any("L4-L5" in n and "not cervical" in n for n in out.unmapped)


def test_imaging_codes_recorded_as_procedures_are_studies_done(kb: KnowledgeBase) -> None:
    out = mapped(kb, procedure((CPT, "72141"), day="2026-11-14"))
    assert out.case["imaging"] == [
        {"study": "mri", "region": "cervical", "weeks_ago": 1.0, "findings": {}}
    ]
