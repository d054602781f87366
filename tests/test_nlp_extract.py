"""Reading free text: what the issue asks the reader to read well, the evidence it keeps,
the merge with a structured case, and the command line and HTTP interfaces.

The spaCy pipeline is built once per process (spinecds.nlp.medspacy_adapter.reader).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinecds.cli import main
from spinecds.nlp import extract
from spinecds.nlp.merge import merge_case
from spinecds.service.extract_api import router

TODAY = date(2026, 11, 21)
EXAMPLE = Path(__file__).parent.parent / "examples" / "post-acdf-note.txt"


def _case(*texts: str) -> dict[str, Any]:
    return extract(list(texts), today=TODAY).case


def _findings(text: str) -> dict[str, Any]:
    return dict(_case(text).get("findings", {}))


# --- what the issue lists ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "surgery"),
    [
        ("58M s/p C5-6 ACDF 2019.", {"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 7}),
        (
            "Status post posterior cervical fusion C4-C7.",
            {"procedure": "posterior_cervical_fusion", "levels": ["C4-C5", "C5-C6", "C6-C7"]},
        ),
        (
            "C5/6 ACDF. Now 2 yrs post-op with neck pain.",
            {"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2},
        ),
        (
            "L4-5 fusion in March 2020.",
            {"procedure": "lumbar_fusion", "levels": ["L4-L5"], "months_ago": 80},
        ),
        (
            "C5 corpectomy 6 weeks ago.",
            {
                "procedure": "anterior_cervical_corpectomy",
                "levels": ["C4-C5", "C5-C6"],
                "weeks_ago": 6,
            },
        ),
    ],
)
def test_surgery_histories(text: str, surgery: dict[str, Any]) -> None:
    assert _case(text)["surgeries"] == [surgery]


def test_a_planned_or_denied_operation_is_no_past_operation() -> None:
    assert "surgeries" not in _case("Discussed revision ACDF; she will consider surgery.")
    assert _case("No prior neck or back surgery.")["surgeries"] == []


def test_a_cervical_fusion_of_unstated_approach_is_left_for_the_clinician() -> None:
    extraction = extract(["C5-6 fusion in 2020, now neck pain."], today=TODAY)
    assert "surgeries" not in extraction.case
    assert "without saying which operation" in extraction.unresolved[0].problem


def test_one_negation_covers_a_list_and_stops_at_but() -> None:
    assert _findings("Denies fevers, chills or night sweats but reports neck pain.") == {
        "fever": False,
        "chills": False,
        "night_sweats": False,
        "neck_pain": True,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hardware intact without evidence of loosening.",
            {"hardware_intact": True, "periscrew_lucency": False},
        ),
        (
            "Lucency surrounding the inferior screws concerning for loosening.",
            {"periscrew_lucency": True},
        ),
        ("No bridging bone across C5-C6.", {"solid_fusion": False}),
        ("Solid arthrodesis at C5-C6.", {"solid_fusion": True}),
    ],
)
def test_radiology_phrasing(text: str, expected: dict[str, bool]) -> None:
    extraction = extract([f"CT cervical spine without contrast. {text}"], today=TODAY)
    (study,) = extraction.case["imaging"]
    assert (study["study"], study["region"], study["findings"]) == ("ct", "cervical", expected)


def test_contrast_and_flexion_extension_wording_name_the_study() -> None:
    mri = _case("MRI cervical spine without and with contrast: no epidural abscess.")
    assert mri["imaging"][0]["study"] == "mri_with_contrast"
    dynamic = _case(
        "AP, lateral, flexion and extension views of the cervical spine: no instability."
    )
    assert dynamic["imaging"] == [
        {
            "study": "radiography_flexion_extension",
            "region": "cervical",
            "findings": {"instability_on_flexion_extension": False},
        }
    ]
    planned = _case("Plan: MRI C-spine w/wo contrast to evaluate for cord compression.")
    assert "imaging" not in planned


def test_labs_against_their_range_and_the_weakest_muscle() -> None:
    findings = _findings("ESR 48 (0-20), CRP 0.3 mg/dL (normal <0.5). 4/5 grip, deltoid 5/5.")
    assert findings == {"esr_elevated": True, "crp_elevated": False, "motor_grade": 4.0}


def test_possible_hypothetical_and_family_mentions_never_become_present() -> None:
    text = (
        "Possible fever. If she develops chills, call. Mother has breast cancer. "
        "History of night sweats, resolved."
    )
    assert _case(text).get("findings", {}) == {}


def test_every_mention_keeps_its_evidence() -> None:
    text = "HPI: Denies fever.\nFH: father with diabetes."
    extraction = extract([text], today=TODAY).to_json_dict()
    by_term = {e["term"]: e for e in extraction["evidence"]}
    fever, diabetes = by_term["fever"], by_term["diabetes"]
    assert text[fever["span"][0] : fever["span"][1]] == fever["words"] == "fever"
    assert (fever["assertion"], fever["value"], fever["entered"]) == ("negated", False, True)
    assert (fever["section"], fever["field"]) == ("history_of_present_illness", "findings.fever")
    assert fever["sentence"] == "HPI: Denies fever." and fever["modifiers"] == ["Denies"]
    assert (diabetes["assertion"], diabetes["entered"]) == ("someone_else", False)


def test_wrapped_lines_read_as_one_sentence() -> None:
    text = "Patient denies fevers, chills\nor night sweats. Return sooner for weakness, fever or\ntrouble swallowing."
    assert _findings(text) == {"fever": False, "chills": False, "night_sweats": False}


# --- merging with a structured case --------------------------------------------------------


def test_structured_values_win_and_the_text_fills_the_rest() -> None:
    extraction = extract(["58M s/p C5-6 ACDF 2019. Fever to 101. Denies chills."], today=TODAY)
    case = {
        "surgeries": [{"procedure": "acdf"}],
        "complaint": ["neck_pain"],
        "findings": {"fever": False},
    }
    merged = merge_case(case, extraction)
    assert merged.data["findings"] == {"fever": False, "chills": False}
    assert merged.data["surgeries"] == [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 7}]
    assert merged.data["age"] == 58
    assert [(o.field, o.case_value, o.text_value) for o in merged.overrides] == [
        ("findings.fever", False, True)
    ]
    assert merged.origin("findings.chills") == "text" and merged.origin("findings.fever") == "case"
    assert case["findings"] == {"fever": False}  # the caller's case is not changed


def test_a_case_saying_no_operations_keeps_saying_so() -> None:
    extraction = extract(["s/p C5-6 ACDF 2019."], today=TODAY)
    merged = merge_case({"surgeries": [], "complaint": ["neck_pain"]}, extraction)
    assert merged.data["surgeries"] == [] and merged.overrides[0].field == "surgeries"


# --- command line --------------------------------------------------------------------------


def test_extract_prints_the_case_fragment_and_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", str(EXAMPLE), "--today", "2026-11-21"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["case"]["surgeries"] == [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2}]
    assert out["case"]["complaint"] == ["neck_pain", "radiculopathy"]
    assert out["texts"][0]["name"] == str(EXAMPLE) and out["today"] == "2026-11-21"
    assert main(["extract", str(EXAMPLE), "--format", "text", "--today", "2026-11-21"]) == 0
    assert "Evidence (every mention" in capsys.readouterr().out


def test_assess_reads_the_readme_example_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "--text", str(EXAMPLE), "--today", "2026-11-21"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("URGENCY: ROUTINE")
    assert "FROM THE TEXT" in out and '"fevers" in "No fevers, chills or night sweats."' in out
    assert main(["assess", "--text", str(EXAMPLE), "--today", "2026-11-21", "-f", "json"]) == 0
    assessment = json.loads(capsys.readouterr().out)
    assert assessment["pathway"] == "post_surgical_no_red_flags"
    assert "findings.fever" in assessment["from_text"]["fields_from_text"]


def test_assess_merges_a_case_file_with_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(
        "surgeries: [{procedure: acdf, levels: [C5-C6], years_ago: 2}]\ncomplaint: [neck_pain]\nfindings: {fever: true}\n"
    )
    assert (
        main(
            ["assess", str(case), "--text", str(EXAMPLE), "--today", "2026-11-21", "-f", "markdown"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "## From the text" in out and "Kept from the case file" in out
    assert "URGENCY" in out or "Urgency" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["assess"], "give a case file, or --text FILE"),
        (["assess", "--text", "/no/such/file.txt"], "cannot be read"),
        (["extract", str(EXAMPLE), "--today", "2026-13-01"], "not a date"),
    ],
)
def test_bad_input_exits_2_with_the_field_and_fix(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_texts_without_operation_or_complaint_say_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Denies fever.\n")
    assert main(["assess", "--text", str(note)]) == 2
    err = capsys.readouterr().err
    assert "surgeries:" in err and "complaint:" in err


# --- HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_api_extract_answers_the_cli_json(client: TestClient) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    response = client.post("/api/extract", json={"text": text, "today": "2026-11-21"})
    assert response.status_code == 200
    expected = extract([text], names=["text 1"], today=TODAY).to_json_dict()
    assert response.json() == json.loads(json.dumps(expected))
    two = client.post(
        "/api/extract", json={"texts": [text, "CT C-spine: solid fusion."], "today": "2026-11-21"}
    )
    assert [t["name"] for t in two.json()["texts"]] == ["text 1", "text 2"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, ["body"]),
        ({"text": "a", "texts": ["b"]}, ["body"]),
        ({"text": "   "}, ["body", "text"]),
        ({"texts": []}, ["body", "texts"]),
        ({"text": "a", "note": "b"}, ["body", "note"]),
        ({"text": "a", "today": "2026-13-01"}, ["body", "today"]),
        ({"texts": ["a"] * 21}, ["body", "texts"]),
    ],
)
def test_api_extract_refuses_bad_input_with_422(
    client: TestClient, body: dict[str, Any], where: list[str]
) -> None:
    response = client.post("/api/extract", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == where


def test_a_long_text_is_read_in_chunks_with_its_sections_carried_over() -> None:
    filler = "\n\n".join("Seen in clinic for follow-up of chronic issues." for _ in range(120))
    text = f"Family history:\n{filler}\n\nMother with breast cancer.\n\nHPI: Denies fever."
    assert len(text) > 5000
    extraction = extract([text], today=TODAY)
    cancer = next(e for e in extraction.evidence if e.term == "cancer_history")
    assert (cancer.section, cancer.assertion) == ("family_history", "someone_else")
    assert text[cancer.start : cancer.end] == "cancer"
    assert extraction.case["findings"] == {"fever": False}


def test_pyrush_sentence_splitting_reads_the_same_and_prints_no_debug_lines(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """medspaCy's PyRuSH logs every token at DEBUG through loguru; we quiet it."""
    text = "Denies fevers, chills or night sweats. Neck pain."
    ours = extract([text], today=TODAY).case
    assert extract([text], today=TODAY, splitter="pyrush").case == ours
    captured = capfd.readouterr()
    assert "DEBUG" not in captured.err and "DEBUG" not in captured.out


def test_an_operation_outside_its_region_is_reported_not_entered() -> None:
    extraction = extract(["Foraminotomy L5-S1 in 2020."], today=TODAY)
    assert "surgeries" not in extraction.case
    assert "not a cervical operation" in extraction.unresolved[0].problem


_WORDS = (
    EXAMPLE.read_text(encoding="utf-8").split()
    + "C9-C10 T12-L1 L5-S1 C5 corpectomy lumbar laminectomy L4-5 foraminotomy 2031 0/5 6/5".split()
    + "MRI w/wo contrast CT myelogram solid fusion no bridging bone ESR 48 (0-20) ? not".split()
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=60))
def test_every_case_fragment_is_a_valid_case(words: list[str]) -> None:
    from spinecds import default_kb, parse_case

    kb = default_kb()
    text = " ".join(words)
    extraction = extract([text], today=TODAY)
    case = {"surgeries": [], "complaint": ["neck_pain"], **extraction.case}
    parse_case(case, kb.vocabulary, kb.procedures)  # raises CaseError if not
    for item in extraction.evidence:
        if item.kind in ("procedure", "study", "imaging_finding"):
            assert text[item.start : item.end] == item.words
