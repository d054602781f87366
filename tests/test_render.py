"""The reports people read: urgency first, real ACR data in the tables, a patient version
free of jargon and reference ids, and the emergency instruction first when it applies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from spinecds import Assessment, KnowledgeBase, assess, parse_case
from spinecds.assessment import PlanItem
from spinecds.cli import read_case_file
from spinecds.render import render
from spinecds.render.patient import EMERGENCY
from spinecds.render.text import WIDTH

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"
SEEDS = (
    "seed-000-resecured-screws",
    "seed-001-post-acdf-radiculopathy",
    "seed-002-prior-lumbar-fusion",
)
ACR_WORDS = ("Usually Appropriate", "May Be Appropriate", "Usually Not Appropriate", "ACR", "mSv")
SAME_DAY = "Get help the same day if"
CLOSING = "Your care team has the full report and its sources."
SECTIONS = (
    "Do now",
    "Context",
    "ACR variant",
    "Imaging",
    "How the sources disagree and what applies here",
    "Differential diagnosis",
    "Plan",
    "Follow-up",
    "Warnings",
    "Questions to ask",
    "References",
)


@pytest.fixture(scope="module")
def seeds(kb: KnowledgeBase) -> dict[str, Assessment]:
    """The shared seed cases, read exactly as the CLI reads them."""
    out = {}
    for name in SEEDS:
        raw = read_case_file(CASES / f"{name}.yaml")
        out[name] = assess(parse_case(raw, kb.vocabulary, kb.procedures), kb)
    return out


@pytest.fixture(scope="module")
def emergency(run_case: Callable[..., Assessment]) -> Assessment:
    """Stridor two weeks after an ACDF: an airway emergency."""
    surgery = {"procedure": "acdf", "levels": ["C5-C6"], "weeks_ago": 2}
    return run_case(surgeries=[surgery], findings={"dyspnea_or_stridor": True})


def section(report: str, heading: str, level: str = "##") -> str:
    """The Markdown text under one heading, up to the next heading of the same level."""
    start = report.index(f"{level} {heading}\n")
    end = report.find(f"\n{level} ", start + 1)
    return report[start : end if end != -1 else None]


# --- clinician report ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_urgency_banner_leads_the_report(
    seeds: dict[str, Assessment], kb: KnowledgeBase, fmt: str
) -> None:
    report = render(seeds[SEEDS[1]], kb, fmt, "clinician")
    first = report.splitlines()[0]
    assert first.lstrip("*").startswith("URGENCY: ROUTINE")
    assert "pathway: Post-surgical pain without red flags" in first
    assert "referral: No referral" in first
    assert report.index("URGENCY") < report.index("Earlier surgery on the painful region")


def test_sections_come_in_reading_order(seeds: dict[str, Assessment], kb: KnowledgeBase) -> None:
    text = render(seeds[SEEDS[1]], kb, "text", "clinician")
    markdown = render(seeds[SEEDS[1]], kb, "markdown", "clinician")
    text_positions = [text.index(f"\n{h.upper()}\n") for h in SECTIONS]
    markdown_positions = [markdown.index(f"\n## {h}\n") for h in SECTIONS]
    assert text_positions == sorted(text_positions)
    assert markdown_positions == sorted(markdown_positions)
    assert text.rstrip().endswith("examines the patient.")
    assert f"Knowledge version {seeds[SEEDS[1]].knowledge_version}." in text


def test_do_now_names_first_study_labs_and_referral(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    do_now = section(render(seeds[SEEDS[0]], kb, "markdown", "clinician"), "Do now")
    assert (
        "- Image first: CT cervical spine without IV contrast (Usually Appropriate, 7)." in do_now
    )
    assert "Erythrocyte sedimentation rate (ESR)" in do_now
    assert "- Referral: Referral to a spine surgeon." in do_now


def test_text_imaging_table_shows_category_rating_and_radiation(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    text = render(seeds[SEEDS[1]], kb, "text", "clinician")
    table = text[text.index("\nIMAGING\n") :]
    header = next(line for line in table.splitlines() if line.startswith("study "))
    assert header.split() == ["study", "ACR", "category", "rating", "radiation"]
    first_row = next(line for line in table.splitlines() if line.startswith("Radiography"))
    assert first_row.split("  ")[0].strip() == "Radiography cervical spine"
    assert "Usually Appropriate" in first_row
    assert re.search(r"\s7\s", first_row)
    assert "☢☢ 0.1-1 mSv" in first_row
    assert "☢☢☢" not in first_row


def test_markdown_has_pipe_tables(seeds: dict[str, Assessment], kb: KnowledgeBase) -> None:
    markdown = render(seeds[SEEDS[1]], kb, "markdown", "clinician")
    imaging = section(markdown, "Imaging")
    assert "| study | ACR category | rating | radiation |\n| --- | --- | --- | --- |" in imaging
    assert "| Radiography cervical spine | Usually Appropriate | 7 | ☢☢ 0.1-1 mSv |" in imaging
    full = section(imaging, "All ACR ratings, variant 3", "###")
    rows = [line for line in full.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + len(seeds[SEEDS[1]].acr.ratings)  # type: ignore[union-attr]
    assert all(row.count(" | ") == 3 for row in rows)


def test_text_fits_a_terminal(seeds: dict[str, Assessment], kb: KnowledgeBase) -> None:
    for assessment in seeds.values():
        text = render(assessment, kb, "text", "clinician")
        assert "\x1b" not in text
        too_long = [line for line in text.splitlines() if len(line) > WIDTH]
        assert all("http" in line and " " not in line.strip() for line in too_long), too_long


def test_conflicts_show_each_position_and_what_was_followed(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    markdown = render(seeds[SEEDS[1]], kb, "markdown", "clinician")
    conflicts = section(markdown, "How the sources disagree and what applies here")
    assert "*radiographs_first (applies: yes, followed):*" in conflicts
    assert "*ct_first (applies: unknown):*" in conflicts
    assert "*mri_first (applies: no):*" in conflicts
    assert "*followed:* radiographs_first." in conflicts


def test_differential_and_plan_carry_evidence_and_citations(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    markdown = render(seeds[SEEDS[1]], kb, "markdown", "clinician")
    differential = section(markdown, "Differential diagnosis")
    assert (
        "**1. Adjacent segment disease (ASD) - strong support [hilibrand-1999-asd]" in differential
    )
    assert "*base rate:* New symptomatic disease next to an anterior fusion" in differential
    plan = section(markdown, "Plan")
    phases = [plan.index(f"### {p}") for p in ("Conservative care", "Medicines", "Interventional")]
    assert phases == sorted(phases)
    assert "*evidence:* Randomized controlled trial (RCT)" in plan
    assert "*duration:* 6 to 12 weeks" in plan


def test_questions_show_ten_and_count_the_rest(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    assessment = seeds[SEEDS[1]]
    questions = section(render(assessment, kb, "markdown", "clinician"), "Questions to ask")
    assert "10. " in questions
    assert "\n11. " not in questions
    assert f"{len(assessment.questions) - 10} more questions" in questions
    assert "Would change: if present: urgency would become emergency" in questions


def test_every_citation_is_listed_once_with_its_source(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    assessment = seeds[SEEDS[1]]
    references = section(render(assessment, kb, "markdown", "clinician"), "References")
    lines = [line for line in references.splitlines() if re.match(r"\d+\. ", line)]
    assert len(lines) == len(assessment.citations)
    for i, (line, ref_id) in enumerate(zip(lines, assessment.citations, strict=True), start=1):
        assert line.startswith(f"{i}. [{ref_id}] ")
        assert kb.references[ref_id].title[:30] in line
    panel = next(line for line in lines if "[acr-2021-myelopathy]" in line)
    assert panel.count("(") == panel.count(")")


def test_order_review_appears_only_when_an_order_is_proposed(
    run_case: Callable[..., Assessment], kb: KnowledgeBase
) -> None:
    reviewed = run_case(proposed_order="MRI cervical spine without IV contrast")
    plain = run_case()
    review = section(render(reviewed, kb, "markdown", "clinician"), "Order review")
    assert "**Proposed: MRI cervical spine without IV contrast**" in review
    assert "*verdict:* " in review
    assert "## Order review" not in render(plain, kb, "markdown", "clinician")


def test_clinician_json_is_the_assessment(seeds: dict[str, Assessment], kb: KnowledgeBase) -> None:
    assessment = seeds[SEEDS[2]]
    assert json.loads(render(assessment, kb, "json", "clinician")) == json.loads(
        json.dumps(assessment.to_json_dict())
    )


def test_unknown_format_or_audience_is_refused(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(seeds[SEEDS[0]], kb, "html", "clinician")
    with pytest.raises(ValueError, match="unknown audience"):
        render(seeds[SEEDS[0]], kb, "text", "family")


# --- patient version -----------------------------------------------------------------------


@pytest.mark.parametrize("name", SEEDS)
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_patient_version_is_plain(
    seeds: dict[str, Assessment], kb: KnowledgeBase, name: str, fmt: str
) -> None:
    assessment = seeds[name]
    report = render(assessment, kb, fmt, "patient")
    body = "\n".join(json.loads(report).values()) if fmt == "json" else report
    assert "[" not in body
    assert not [word for word in ACR_WORDS if word in body]
    assert not [ref for ref in assessment.citations if ref in body]
    headings = ("What may be going on", "What happens next", "Treatments you may be offered")
    for heading in (*headings, SAME_DAY):
        assert heading.lower() in body.lower() or fmt == "json"
    assert body.rstrip().endswith(CLOSING)


def test_patient_json_has_the_sections_as_strings(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    data = json.loads(render(seeds[SEEDS[0]], kb, "json", "patient"))
    assert list(data) == [
        "how_soon",
        "title",
        "what_may_be_going_on",
        "what_happens_next",
        "treatments",
        "get_help_the_same_day_if",
        "closing",
    ]
    assert all(isinstance(value, str) for value in data.values())
    assert "trouble controlling your bladder or bowels" in data["get_help_the_same_day_if"]


def test_patient_next_steps_use_everyday_words(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    resecured = render(seeds[SEEDS[0]], kb, "markdown", "patient")
    nxt = section(resecured, "What happens next")
    assert "- A CT scan of the neck." in nxt
    assert "- Blood tests." in nxt
    assert "- See a spine surgeon at a regular appointment." in nxt
    radiculopathy = render(seeds[SEEDS[1]], kb, "text", "patient")
    assert "An X-ray of the neck." in radiculopathy
    assert "Radiography" not in radiculopathy
    going_on = section(render(seeds[SEEDS[1]], kb, "markdown", "patient"), "What may be going on")
    assert going_on.count("\n- ") == 3
    assert "Wear and tear at the spine levels next to the operation" in going_on


def test_patient_is_told_plainly_when_evidence_is_thin(
    run_case: Callable[..., Assessment], kb: KnowledgeBase
) -> None:
    chronic = run_case(symptom_weeks=26, course="stable")
    assert "orthobiologics_unproven" in [p.id for p in chronic.plan]
    treatments = section(
        render(chronic, kb, "markdown", "patient"), "Treatments you may be offered"
    )
    prp = next(line for line in treatments.splitlines() if "platelet-rich plasma" in line)
    assert "Very little research so far" in prp
    assert "not recommended outside research" in prp


def test_patient_gets_the_plan_steps_plain_words(
    seeds: dict[str, Assessment], kb: KnowledgeBase
) -> None:
    step = kb.plan_steps["epidural_steroid_injection"]
    item = PlanItem(**step.model_dump(exclude={"conflicts", "plain"}), rationale="test")
    assessment = seeds[SEEDS[2]].model_copy(update={"plan": [item]})
    report = render(assessment, kb, "markdown", "patient")
    assert step.plain in report
    assert "Cervical epidural steroid injection" not in report


# --- emergencies ---------------------------------------------------------------------------


def test_emergency_case_is_an_emergency(emergency: Assessment) -> None:
    assert emergency.urgency == "emergency"
    assert emergency.referral == "emergency_department"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_emergency_leads_the_clinician_report(
    emergency: Assessment, kb: KnowledgeBase, fmt: str
) -> None:
    report = render(emergency, kb, fmt, "clinician")
    assert report.splitlines()[0].lstrip("*").startswith("URGENCY: EMERGENCY")
    do_now = report[report.lower().index("do now") :]
    first_action = next(line for line in do_now.splitlines() if line.startswith("- "))
    assert "emergency department" in first_action


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_emergency_leads_the_patient_version(
    emergency: Assessment, kb: KnowledgeBase, fmt: str
) -> None:
    report = render(emergency, kb, fmt, "patient")
    assert report.splitlines()[0].strip("*") == EMERGENCY
    same_day = report[report.lower().index(SAME_DAY.lower()) :]
    first_point = next(line for line in same_day.splitlines() if line.startswith("- "))
    assert first_point == f"- {EMERGENCY}"


def test_emergency_leads_the_patient_json(emergency: Assessment, kb: KnowledgeBase) -> None:
    data = json.loads(render(emergency, kb, "json", "patient"))
    assert next(iter(data.values())) == EMERGENCY
    assert data["get_help_the_same_day_if"].startswith(EMERGENCY)
