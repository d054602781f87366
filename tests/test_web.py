"""The clinician web page through FastAPI's TestClient, on a real (temporary) audit log."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI

from spinecds import KnowledgeBase, assess, default_kb, parse_case
from spinecds.service.runner import Runner
from spinecds.store import AuditStore
from spinecds.web import install_web
from spinecds.web.answers import AnswerError, apply_answer
from spinecds.web.diagram import decision_path, decision_path_svg
from spinecds.web.forms import FormValues, case_from_form, form_schema, form_values
from spinecds.web.handout import assessment_from_output, handout_html
from spinecds.web.routes import templates

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 (not installed); its TestClient still works with httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "examples" / "post-acdf-radiculopathy.yaml"
SHARED_CASES = sorted((REPO.parent / "shared" / "cases").glob("seed-*.yaml"))


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditStore]:
    path = tmp_path_factory.mktemp("web") / "audit.db"
    audit = AuditStore.from_url(f"sqlite:///{path}")
    audit.upgrade()
    yield audit
    audit.close()


@pytest.fixture(scope="module")
def client(store: AuditStore) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runner = Runner(default_kb(), store)
    install_web(app)
    with TestClient(app) as test_client:
        yield test_client


def seed_case() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SEED.read_text())
    return data


def output_of(case: dict[str, Any], kb: KnowledgeBase) -> dict[str, Any]:
    """A fresh assessment's JSON dict, as the audit log stores it."""
    output: dict[str, Any] = assess(
        parse_case(case, kb.vocabulary, kb.procedures), kb
    ).to_json_dict()
    return output


def post_data(values: FormValues) -> dict[str, list[str]]:
    return {name: list(v) for name, v in values.values.items()}


def submit(client: TestClient, case: dict[str, Any]) -> str:
    """Post a case through the form; the report's path."""
    response = client.post("/assess", data=post_data(form_values(case)), follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    location: str = response.headers["location"]
    assert location.startswith("/report/")
    return location


def record_id(location: str) -> str:
    return location.split("/")[2].split("?")[0]


class Page(HTMLParser):
    """Just enough of the DOM for the checks below: elements with attributes, in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.labels_for: set[str] = set()
        self.legend_count = 0
        self.fieldsets = 0
        self.text = html
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        if tag == "label" and "for" in attributes:
            self.labels_for.add(attributes["for"])
        self.legend_count += tag == "legend"
        self.fieldsets += tag == "fieldset"

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> dict[str, str] | None:
        found = [a for _, a in self.elements if a.get("id") == element_id]
        return found[0] if found else None

    def position(self, needle: str) -> int:
        index = self.text.find(needle)
        assert index >= 0, f"{needle!r} not on the page"
        return index


def controls(page: Page) -> list[dict[str, str]]:
    return [
        a
        for t, a in page.elements
        if t in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit")
    ]


# --- the form ---------------------------------------------------------------------------------


def test_form_offers_every_vocabulary_finding_with_unknown_checked(
    client: TestClient, kb: KnowledgeBase
) -> None:
    page = Page(client.get("/").text)
    vocab = kb.vocabulary
    for finding in vocab.ids("finding"):
        if vocab.attr("finding", finding, "type") == "number":
            assert page.find("input", id=f"finding-{finding}", type="number")
            continue
        radios = page.find("input", name=f"finding-{finding}", type="radio")
        assert [r["value"] for r in radios] == ["present", "absent", "unknown"]
        assert [("checked" in r) for r in radios] == [False, False, True]
    for kind in ("procedure", "study", "treatment", "complaint", "course", "region"):
        for term in vocab.ids(kind):
            assert f'value="{term}"' in page.text, (kind, term)
    for procedure in kb.procedures.values():
        assert page.find("option", value=procedure), procedure


def test_every_form_control_has_a_label_and_radio_groups_a_legend(client: TestClient) -> None:
    html = client.get("/").text
    page = Page(html)
    unlabelled = [c for c in controls(page) if c.get("id") not in page.labels_for]
    assert unlabelled == []
    radio_groups = {c["name"] for c in controls(page) if c.get("type") == "radio"}
    assert radio_groups
    for group in radio_groups:
        start = html.index(f'name="{group}"')
        fieldset = html.rfind("<fieldset", 0, start)
        assert html.find("<legend>", fieldset, start) > fieldset, group


def test_pages_have_language_landmarks_and_a_skip_link(client: TestClient) -> None:
    page = Page(client.get("/").text)
    assert page.find("html", lang="en")
    assert page.find("main", id="main")
    assert page.find("a", href="#main", class_="skip-link")
    assert page.find("meta", name="viewport")
    assert page.find("header") and page.find("footer") and page.find("nav")


@pytest.mark.parametrize("path", [SEED, *SHARED_CASES], ids=lambda p: p.stem)
def test_a_case_survives_the_trip_through_the_form(path: Path, kb: KnowledgeBase) -> None:
    original = yaml.safe_load(path.read_text())
    built = case_from_form(form_values(original), form_schema(kb))
    again = parse_case(built.data, kb.vocabulary, kb.procedures)
    assert again == parse_case(original, kb.vocabulary, kb.procedures)


def test_unknown_is_left_out_and_absent_is_false(kb: KnowledgeBase) -> None:
    values = FormValues.from_pairs(
        [
            ("complaint", "neck_pain"),
            ("finding-fever", "unknown"),
            ("finding-chills", "absent"),
            ("finding-neck_pain", "present"),
            ("finding-motor_grade", ""),
            ("imaging-0-study", "ct"),
            ("imaging-0-region", "cervical"),
            ("imaging-0-finding-fracture", "unknown"),
            ("imaging-0-finding-cage_subsidence", "absent"),
        ]
    )
    data = case_from_form(values, form_schema(kb)).data
    assert data["findings"] == {"chills": False, "neck_pain": True}
    assert data["imaging"] == [
        {"study": "ct", "region": "cervical", "findings": {"cage_subsidence": False}}
    ]
    assert data["surgeries"] == []  # empty rows: a surgery-naive patient, not a missing field


def test_assessing_through_the_form_stores_a_web_record_and_shows_radiographs_first(
    client: TestClient, store: AuditStore
) -> None:
    location = submit(client, seed_case())
    record = store.get_assessment(record_id(location))
    assert record is not None and record.interface == "web"
    assert record.input["findings"]["arm_paresthesia"] is True
    assert "gait_imbalance" not in record.input["findings"]  # unknown stays unknown
    page = Page(client.get(location).text)
    rows = re.findall(r'<th scope="row">([^<]+)</th>', page.text)
    assert rows[0] == "Radiography cervical spine"
    assert page.position("Image first:</strong> Radiography cervical spine") > 0


def test_an_empty_row_before_a_filled_one_keeps_errors_at_the_typed_control(
    client: TestClient,
) -> None:
    data = post_data(form_values(seed_case()))
    # The clinician left operation 1 empty and typed a wrong level into operation 2.
    data.pop("surgery-0-procedure")
    data.pop("surgery-0-levels")
    data.pop("surgery-0-time")
    data.pop("surgery-0-unit")
    data |= {
        "surgery-1-procedure": ["acdf"],
        "surgery-1-levels": ["C9-C10"],
        "surgery-1-time": ["2"],
        "surgery-1-unit": ["years"],
    }
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    page = Page(response.text)
    field = page.by_id("surgery-1-levels")
    assert field is not None and field["value"] == "C9-C10"  # what was typed is kept
    assert field["aria-invalid"] == "true"
    assert "surgery-1-levels-error" in field["aria-describedby"]
    error = response.text.split('id="surgery-1-levels-error">', 1)[1].split("</p>", 1)[0]
    assert "no vertebra C9" in error
    assert page.find("a", href="#surgery-1-levels")  # the summary links to the control


@pytest.mark.parametrize(
    ("changes", "control", "words"),
    [
        ({"complaint": []}, "complaint", "Choose at least one complaint."),
        ({"finding-motor_grade": ["7"]}, "finding-motor_grade", "outside 0-5"),
        ({"age": ["old"]}, "age", "valid number"),
        ({"surgery-0-procedure": [""]}, "surgery-0-procedure", "Choose one"),
        ({"surgery-0-procedure": ["acdff"]}, "surgery-0-procedure", "Did you mean: acdf?"),
        ({"finding-fever": ["yes"]}, "finding-fever", "true (present) or false (absent)"),
        ({"surgery-0-unit": ["years"], "surgery-0-time": ["-1"]}, "surgery-0-time", "0"),
    ],
    ids=["no-complaint", "motor-grade", "age", "empty-procedure", "misspelt", "tampered", "time"],
)
def test_bad_input_is_named_next_to_its_field(
    client: TestClient, changes: dict[str, list[str]], control: str | None, words: str
) -> None:
    data = post_data(form_values(seed_case())) | changes
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    summary = response.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert words in summary
    if control is not None:
        error = response.text.split(f'id="{control}-error">', 1)[1].split("</p>", 1)[0]
        assert words in error


def test_a_missing_complaint_does_not_hide_the_other_problems(
    client: TestClient, store: AuditStore
) -> None:
    before = store.count_assessments()
    data = post_data(form_values(seed_case())) | {
        "complaint": [],
        "surgery-0-levels": ["C9-C10"],
        "finding-motor_grade": ["7"],
    }
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    for control in ("complaint", "surgery-0-levels", "finding-motor_grade"):
        assert f'id="{control}-error"' in response.text, control
    assert store.count_assessments() == before  # nothing assessed, nothing stored


def test_add_rows_redraws_the_form_without_assessing(client: TestClient, store: AuditStore) -> None:
    before = store.count_assessments()
    data = post_data(form_values(seed_case())) | {"action": ["more"]}
    response = client.post("/assess", data=data)
    assert response.status_code == 200
    page = Page(response.text)
    assert page.by_id("surgery-1-procedure") is not None  # a spare row below the filled one
    assert store.count_assessments() == before


def test_edit_this_case_prefills_the_form(client: TestClient) -> None:
    location = submit(client, seed_case())
    page = Page(client.get(f"/?from={record_id(location)}").text)
    age = page.by_id("age")
    assert age is not None and age["value"] == "58"
    assert "checked" in page.find("input", id="finding-arm_paresthesia-present")[0]
    assert "checked" in page.find("input", id="finding-fever-absent")[0]
    assert "checked" in page.find("input", id="finding-gait_imbalance-unknown")[0]


# --- the report -------------------------------------------------------------------------------


def test_report_leads_with_urgency_and_do_now_then_the_rest_in_order(client: TestClient) -> None:
    page = Page(client.get(submit(client, seed_case())).text)
    order = [
        'id="s-urgency"',
        'id="s-do-now"',
        'id="s-imaging"',
        'id="s-path"',
        'id="s-differential"',
        'id="s-plan"',
        'id="s-follow-up"',
        'id="s-warnings"',
        'id="s-questions"',
        'id="s-references"',
    ]
    positions = [page.position(marker) for marker in order]
    assert positions == sorted(positions)
    assert "urgency-routine" in page.text
    assert "Speaks for" in page.text and "Speaks against" in page.text


def test_report_table_shows_category_rating_and_radiation_in_words(client: TestClient) -> None:
    html = client.get(submit(client, seed_case())).text
    table = html.split('<table class="imaging">', 1)[1].split("</table>", 1)[0]
    assert "Usually Appropriate" in table
    assert "relative radiation level 2 of 5, 0.1-1 mSv" in table  # ☢☢ read out


def test_citations_link_to_their_references(client: TestClient, kb: KnowledgeBase) -> None:
    location = submit(client, seed_case())
    page = Page(client.get(location).text)
    output = output_of(seed_case(), kb)
    citations = output["citations"]
    assert isinstance(citations, list) and citations
    for ref_id in citations:
        assert page.find("li", id=f"ref-{ref_id}"), ref_id
        assert page.find("a", href=f"#ref-{ref_id}") or ref_id not in page.text
    ref = kb.references[str(citations[0])]
    assert ref.url and page.find("a", href=ref.url, rel="noreferrer noopener")


def test_answering_a_question_makes_a_new_record_and_shows_what_changed(
    client: TestClient, store: AuditStore
) -> None:
    location = submit(client, seed_case())
    first = record_id(location)
    page = Page(client.get(location).text)
    assert page.find("input", name="field", value="findings.gait_imbalance")
    response = client.post(
        f"/report/{first}/answer",
        data={"field": "findings.gait_imbalance", "value": "present"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    new_location = response.headers["location"]
    assert new_location.endswith(f"?from={first}")
    second = record_id(new_location)
    assert second != first
    html = client.get(new_location).text
    assert "urgency-urgent" in html
    changes = html.split('id="s-changes"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"Urgency</th><td>Routine[^<]*</td><td>Urgent", changes)
    new_record, old_record = store.get_assessment(second), store.get_assessment(first)
    assert new_record is not None and old_record is not None
    assert new_record.input["findings"]["gait_imbalance"] is True
    assert "gait_imbalance" not in old_record.input["findings"]  # the original is untouched


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("findings.not_asked", "present", "does not ask"),
        ("findings.gait_imbalance", "maybe", "present or absent"),
        ("findings.motor_grade", "weak", "Give a number"),
        ("findings.motor_grade", "9", "outside 0-5"),
    ],
)
def test_a_bad_answer_is_shown_at_the_question(
    client: TestClient, store: AuditStore, field: str, value: str, words: str
) -> None:
    location = submit(client, seed_case())
    before = store.count_assessments()
    response = client.post(
        f"/report/{record_id(location)}/answer", data={"field": field, "value": value}
    )
    assert response.status_code == 422
    assert words in response.text
    assert store.count_assessments() == before


def test_unknown_or_malformed_ids_get_a_404_page(client: TestClient) -> None:
    for path in (
        "/report/00000000000000000000000000000000",
        "/report/not-an-id",
        "/report/not-an-id/handout.pdf",
        "/report/00000000-0000-0000-0000-000000000000/handout.pdf",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Report not found" in response.text
        assert response.headers["content-type"].startswith("text/html")
    response = client.post("/report/not-an-id/answer", data={"field": "age", "value": "1"})
    assert response.status_code == 404
    assert client.get("/?from=not-an-id").status_code == 200  # an empty form, not an error


def test_pages_send_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert client.get("/static/spinecds.css").status_code == 200


# --- handout ----------------------------------------------------------------------------------


def test_handout_is_a_pdf_linked_from_the_report(client: TestClient) -> None:
    location = submit(client, seed_case())
    page = Page(client.get(location).text)
    assert page.find("a", href=f"{location}/handout.pdf")
    response = client.get(f"{location}/handout.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")
    assert "handout" in response.headers["content-disposition"]


def test_handout_uses_the_patient_wording_without_sources(kb: KnowledgeBase) -> None:
    output = output_of(seed_case(), kb)
    html = handout_html(templates.env, output, kb)
    assert "Your spine check-up, in plain words" in html
    assert "An X-ray of the neck." in html
    assert "Get help the same day if" in html
    for ref_id in output["citations"]:
        assert str(ref_id) not in html
    assert "Usually Appropriate" not in html


def test_stored_output_reads_back_as_the_same_assessment(kb: KnowledgeBase) -> None:
    for path in [SEED, *SHARED_CASES]:
        assessment = assess(parse_case(yaml.safe_load(path.read_text()), kb.vocabulary), kb)
        assert assessment_from_output(assessment.to_json_dict()) == assessment


# --- answers ----------------------------------------------------------------------------------


def test_an_answer_goes_into_a_copy_of_the_case(kb: KnowledgeBase) -> None:
    case = seed_case()
    updated = apply_answer(case, "findings.motor_grade", "3", kb)
    assert updated["findings"]["motor_grade"] == 3
    assert "motor_grade" not in case["findings"]
    weeks = apply_answer(case, "surgeries[].weeks_ago", "30", kb)
    assert weeks["surgeries"][0] == {"procedure": "acdf", "levels": ["C5-C6"], "weeks_ago": 30}
    assert apply_answer(case, "course", "stable", kb)["course"] == "stable"
    with pytest.raises(AnswerError):
        apply_answer(case, "imaging[].findings.fracture", "present", kb)  # no study to hold it


# --- diagram ----------------------------------------------------------------------------------


def test_diagram_highlights_this_cases_path(kb: KnowledgeBase) -> None:
    output = output_of(seed_case(), kb)
    stages = decision_path(output, kb)
    assert [s.title for s in stages] == [
        "Triage pathway",
        "ACR variant",
        "Next imaging",
        "Results",
        "Plan",
    ]
    chosen = [[n.key for n in s.chosen] for s in stages]
    assert chosen[0] == [output["pathway"]]
    assert chosen[1] == ["cervical_pain.3"]
    assert chosen[2] == output["next_imaging"]
    assert chosen[3] == ["pending"]  # radiographs are ordered, no result yet
    plan_phases = {p["phase"] for p in output["plan"]}
    assert set(chosen[4]) == plan_phases
    assert len(stages[0].nodes) == len(kb.vocabulary.ids("pathway"))


def test_diagram_marks_results_that_fired(kb: KnowledgeBase) -> None:
    case = yaml.safe_load((REPO.parent / "shared/cases/seed-000-resecured-screws.yaml").read_text())
    output = output_of(case, kb)
    results = decision_path(output, kb)[3]
    fired = {t["rule"] for t in output["trace"] if t["family"] == "results"}
    assert fired and {n.key for n in results.chosen} == fired


def test_diagram_svg_is_labelled_and_escaped(kb: KnowledgeBase) -> None:
    output = output_of(seed_case(), kb)
    svg = decision_path_svg(output, kb)
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert 'aria-labelledby="dp-title dp-desc"' in svg
    assert '<title id="dp-title">' in svg and '<desc id="dp-desc">' in svg
    assert "Cervical Pain or Cervical Radiculopathy, variant 3" in svg
    hostile = dict(output, pathway="<script>alert(1)</script>")
    assert "<script>" not in decision_path_svg(hostile, kb)
