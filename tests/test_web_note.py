"""Start from a note: a pasted note fills the case form, every mention marked in the text.

Through FastAPI's TestClient on a temporary audit log, with the day frozen. The notes are
written for these tests; what the reader itself gets right is tested by the corpus test,
here we test what the page does with its reading.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI

from spinecds import default_kb
from spinecds.errors import KnowledgeBaseError
from spinecds.nlp import Evidence, extract
from spinecds.service.runner import Runner
from spinecds.store import AuditStore
from spinecds.web import install_web
from spinecds.web import note as note_module
from spinecds.web.note import MAX_NOTE_CHARS, current_date
from spinecds.web.note_view import ASSERTION_TAGS, control_of, count_to_today, merge_note

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 (not installed); its TestClient still works with httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

# spaCy's CLI module, imported with spaCy, uses a Click name that Click 8.2 deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Importing 'parser.split_arg_string' is deprecated:DeprecationWarning"
)

TODAY = date(2026, 3, 1)

# A clinic note two years after an ACDF, in our own words: symptoms, red flags asked and
# denied, one uncertain symptom, one relative's illness and a plan that names studies.
CLINIC_NOTE = """Spine clinic, return visit

HPI: 57-year-old man two years out from a C5-C6 ACDF (2024). About a month of steadily \
worsening neck pain, and for two weeks tingling down the right arm to the thumb. He denies \
fevers, chills or night sweats. No recent trauma. No history of cancer. No night pain. \
Possible weight loss, he is not sure. His father had prostate cancer.

Exam: Wound well healed without erythema. Spurling sign positive on the right.

Plan: Radiographs of the cervical spine. If no better in six weeks, consider MRI.
"""

DENIED = ("fever", "chills", "night_sweats", "recent_trauma", "cancer_history", "night_pain")


# --- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditStore]:
    path = tmp_path_factory.mktemp("web-note") / "audit.db"
    audit = AuditStore.from_url(f"sqlite:///{path}")
    audit.upgrade()
    yield audit
    audit.close()


@pytest.fixture(scope="module")
def client(store: AuditStore) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runner = Runner(default_kb(), store)
    install_web(app)
    app.dependency_overrides[current_date] = lambda: TODAY
    with TestClient(app) as test_client:
        yield test_client


class FormPage(HTMLParser):
    """The page as a browser would see it: what the form posts, the marks and the note text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.pairs: list[tuple[str, str]] = []
        self.ids: dict[str, dict[str, str]] = {}
        self.note_text = ""  # the note as shown, without the assertion tags
        self.marks: list[tuple[int, int, str]] = []  # (start, end, class) in note_text
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._textarea_text = ""
        self._note_depth = 0  # inside div.note-text
        self._tag_depth = 0  # inside an assertion tag (not note text)
        self._mark: tuple[int, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        self._form_control(tag, a)
        classes = a.get("class", "").split()
        if self._note_depth:
            self._note_depth += tag in ("div", "mark", "span", "a")
            if "m-tag" in classes or self._tag_depth:
                self._tag_depth += 1
            if tag == "mark":
                self._mark = (len(self.note_text), a.get("class", ""))
        elif tag == "div" and "note-text" in classes:
            self._note_depth = 1

    def _form_control(self, tag: str, a: dict[str, str]) -> None:
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.pairs.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.pairs.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name:
            self._textarea, self._textarea_text = name, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [self._options[0][0]]
            self.pairs.append((self._select, chosen[0]))
            self._select = None
        if tag == "textarea" and self._textarea is not None:
            # Browsers drop the one line break that may follow <textarea>.
            self.pairs.append((self._textarea, self._textarea_text.removeprefix("\n")))
            self._textarea = None
        if self._note_depth and tag in ("div", "mark", "span", "a"):
            self._note_depth -= 1
            if self._tag_depth:
                self._tag_depth -= 1
            if tag == "mark" and self._mark is not None:
                start, classes = self._mark
                self.marks.append((start, len(self.note_text), classes))
                self._mark = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea_text += data
        if self._note_depth and not self._tag_depth:
            self.note_text += data

    def value(self, name: str) -> str | None:
        found = [v for n, v in self.pairs if n == name]
        return found[0] if found else None

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.pairs if n == name]

    def post_data(self) -> dict[str, list[str]]:
        data: dict[str, list[str]] = {}
        for name, value in self.pairs:
            data.setdefault(name, []).append(value)
        return data


def read(client: TestClient, text: str, **fields: Any) -> FormPage:
    data = {"note": text, "note_date": TODAY.isoformat(), **fields}
    response = client.post("/note", data=data)
    assert response.status_code == 200, response.text[:3000]
    return FormPage(response.text)


def clusters(evidence: list[Evidence]) -> list[tuple[int, int]]:
    """Evidence spans, overlapping ones joined: what the page should mark."""
    joined: list[tuple[int, int]] = []
    for e in sorted(evidence, key=lambda e: (e.start, e.end)):
        if joined and e.start < joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], e.end))
        else:
            joined.append((e.start, e.end))
    return joined


# --- the form and the box -------------------------------------------------------------------


def test_the_form_offers_a_labelled_note_box_posting_to_note(client: TestClient) -> None:
    html = client.get("/").text
    page = FormPage(html)
    assert page.ids["note"]["tag"] == "textarea"
    assert 'for="note"' in html and 'for="note_date"' in html
    assert page.ids["note_date"]["type"] == "date"
    assert 'formaction="/note"' in html
    assert "Read the note" in html
    # Enter in a field still assesses: the form's first submit button is Assess.
    first_button = html.index("<button", html.index('action="/assess"'))
    assert html[first_button : html.index("</button>", first_button)].endswith(">Assess")


# --- what the note fills ----------------------------------------------------------------------


def test_a_post_acdf_note_fills_the_right_fields(client: TestClient) -> None:
    page = read(client, CLINIC_NOTE)
    assert page.value("age") == "57"
    assert page.value("sex") == "male"
    assert page.value("surgery-0-procedure") == "acdf"
    assert page.value("surgery-0-levels") == "C5-C6"
    assert (page.value("surgery-0-time"), page.value("surgery-0-unit")) == ("2", "years")
    assert "radiculopathy" in page.values("complaint")
    assert page.value("finding-arm_paresthesia") == "present"
    assert page.value("finding-spurling_sign") == "present"
    for finding in DENIED:
        assert page.value(f"finding-{finding}") == "absent", finding
    # Each filled field says where it came from, linked to the words in the note.
    note = page.ids["finding-fever-note"]
    assert note["class"] == "from-note"
    assert 'id="finding-fever-note">From the note: <a href="#m-' in page.html
    assert "“fevers”" in page.html
    assert "finding-fever-note" in page.ids["finding-fever"].get("aria-describedby", "")


def test_negated_findings_fill_absent_and_uncertain_ones_fill_nothing(client: TestClient) -> None:
    page = read(client, "Denies fever. Possible night sweats. Neck pain for three weeks.")
    assert page.value("finding-fever") == "absent"
    assert page.value("finding-night_sweats") == "unknown"
    assert "finding-night_sweats-note" not in page.ids
    assert page.value("finding-neck_pain") == "present"


def test_possible_hypothetical_and_someone_elses_mentions_fill_nothing(client: TestClient) -> None:
    page = read(client, CLINIC_NOTE)
    assert page.value("finding-unexplained_weight_loss") == "unknown"  # "possible weight loss"
    assert page.value("imaging-0-study") == ""  # radiographs and MRI are only planned
    classes = {c for _, _, c in page.marks}
    assert {"m m-possible", "m m-someone_else", "m m-hypothetical"} <= classes
    unfilled = ("m-tag m-possible", "m-tag m-someone_else", "m-tag m-hypothetical")
    tags = [a for i, a in page.ids.items() if i.startswith("m-") and a["class"] in unfilled]
    assert len(tags) >= 4
    assert all(a["tag"] == "span" and "href" not in a for a in tags)  # no link: nothing filled


def test_a_radiology_report_fills_a_study_and_leaves_a_possible_finding_unknown(
    client: TestClient,
) -> None:
    report = (
        "EXAMINATION: CT cervical spine without contrast.\n"
        "FINDINGS: Anterior plate and screws at C5-C6. Periscrew lucency around the C6 screws. "
        "No acute fracture.\nIMPRESSION: Periscrew lucency; possible pseudarthrosis.\n"
    )
    page = read(client, report)
    assert (page.value("imaging-0-study"), page.value("imaging-0-region")) == ("ct", "cervical")
    assert page.value("imaging-0-finding-periscrew_lucency") == "present"
    assert page.value("imaging-0-finding-fracture") == "absent"
    assert page.value("imaging-0-finding-pseudarthrosis") == "unknown"
    assert "imaging-0-note" in page.ids and "imaging-0-finding-fracture-note" in page.ids
    assert "imaging-0-finding-pseudarthrosis-note" not in page.ids


def test_marks_cover_exactly_the_evidence_spans(client: TestClient) -> None:
    page = read(client, CLINIC_NOTE)
    assert page.note_text == CLINIC_NOTE  # the whole note, in order, tags aside
    evidence = extract([CLINIC_NOTE], today=TODAY).evidence
    assert [(s, e) for s, e, _ in page.marks] == clusters(evidence)
    for e in evidence:
        assert page.note_text[e.start : e.end] == e.words


def test_every_mark_is_named_in_words_not_only_by_colour(client: TestClient) -> None:
    html = read(client, CLINIC_NOTE).html
    legend = html[
        html.index('class="note-legend"') : html.index("</ul>", html.index("note-legend"))
    ]
    for tag in ASSERTION_TAGS.values():
        assert tag.word in legend and tag.meaning in legend
    assert html.count("<mark ") == html.count('<mark class="m m-') > 10
    tagged = html.count('</mark><a class="m-tag m-') + html.count('</mark><span class="m-tag m-')
    assert tagged == html.count("</mark>")


def test_marks_link_to_the_field_they_filled(client: TestClient) -> None:
    page = read(client, CLINIC_NOTE)
    links = [v for k, v in page.ids.items() if k.startswith("m-") and v["tag"] == "a"]
    assert links
    for link in links:
        assert link["href"].removeprefix("#") in page.ids, link


def test_html_in_the_note_is_shown_as_text(client: TestClient) -> None:
    text = 'Denies fever. <script>alert("x")</script> <b onmouseover="y">neck pain</b> & more'
    page = read(client, text)
    assert "<script>alert" not in page.html and "<b onmouseover" not in page.html
    assert "&lt;script&gt;" in page.html
    assert page.note_text == text
    assert page.value("note") == text  # the box gives it back as typed


def test_the_clinicians_entries_win_over_the_note(client: TestClient) -> None:
    page = read(client, CLINIC_NOTE, age="59", **{"finding-fever": "present"})
    assert page.value("age") == "59"
    assert page.value("finding-fever") == "present"
    assert "finding-fever-note" not in page.ids
    assert "the form already held a value" in page.html
    assert page.value("finding-chills") == "absent"  # what the form left unknown is filled


def test_a_corrected_note_read_again_replaces_what_the_first_reading_filled(
    client: TestClient,
) -> None:
    first = read(client, "Fever since Monday. Neck pain.")
    assert first.value("finding-fever") == "present"
    data = first.post_data()
    data["note"] = ["No fever. Neck pain."]
    data["finding-neck_pain"] = ["absent"]  # the clinician corrected this one: it stays
    again = client.post("/note", data=data)
    assert again.status_code == 200
    page = FormPage(again.text)
    assert page.value("finding-fever") == "absent"
    assert page.value("finding-neck_pain") == "absent"


def test_adding_rows_keeps_the_note_and_what_it_filled(client: TestClient) -> None:
    first = read(client, "Fever since Monday.")
    data = first.post_data()
    assert data["note_filled"] == ["finding-fever=present"]
    response = client.post("/assess", data={**data, "action": "more"})
    assert response.status_code == 200
    page = FormPage(response.text)
    assert page.values("note_filled") == ["finding-fever=present"]
    assert page.value("note") == "Fever since Monday."


def test_times_are_counted_to_today_for_an_older_note(client: TestClient) -> None:
    page = read(client, "s/p C5-6 ACDF 2 years ago.", note_date="2025-03-01")
    assert (page.value("surgery-0-time"), page.value("surgery-0-unit")) == ("3", "years")
    assert "365 days after the note" in page.html


def test_the_filled_form_assesses_and_stores_a_report(client: TestClient) -> None:
    page = read(client, CLINIC_NOTE)
    data = page.post_data()
    data["symptom_weeks"], data["course"] = ["4"], ["increasing"]
    response = client.post("/assess", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text[:3000]
    report = client.get(response.headers["location"]).text
    assert "Radiography cervical spine" in report


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "control", "message"),
    [
        ({"note": ""}, "note", "Paste the text"),
        ({"note": "   \n  "}, "note", "Paste the text"),
        ({"note": "x" * (MAX_NOTE_CHARS + 1)}, "note", "limit is 50,000 characters"),
        ({"note": "Neck pain.", "note_date": "1 March"}, "note_date", "year-month-day"),
        ({"note": "Neck pain.", "note_date": "2026-03-02"}, "note_date", "after today"),
        ({"note": "Neck pain.", "note_date": "1066-10-14"}, "note_date", "after 1900"),
    ],
)
def test_bad_input_is_named_at_its_field(
    client: TestClient, fields: dict[str, str], control: str, message: str
) -> None:
    response = client.post("/note", data={"age": "61", **fields})
    assert response.status_code == 422
    page = FormPage(response.text)
    error = page.ids[f"{control}-error"]
    assert error["class"] == "field-error"
    assert message in response.text
    assert page.ids[control].get("aria-invalid") == "true"
    assert page.value("age") == "61"  # what the form held is kept


def test_a_note_too_large_to_parse_is_named_at_the_box(client: TestClient) -> None:
    response = client.post("/note", data={"note": "y" * 2_000_000})  # over Starlette's 1 MB
    assert response.status_code == 422
    assert FormPage(response.text).ids["note-error"]["class"] == "field-error"
    assert "limit is 50,000 characters" in response.text


def test_a_note_without_its_field_is_an_error_not_a_crash(client: TestClient) -> None:
    response = client.post("/note", data={"age": "61"})
    assert response.status_code == 422
    assert "Paste the text" in response.text


def test_a_reader_that_cannot_start_answers_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise KnowledgeBaseError("The text-reading rules (kb/nlp) are invalid.")

    monkeypatch.setattr(note_module, "extract", broken)
    response = client.post("/note", data={"note": "Neck pain."})
    assert response.status_code == 503
    assert "enter the case by hand" in response.text


# --- merging and paths, without the page ------------------------------------------------------


def test_merge_keeps_the_forms_rows_and_fills_a_listed_studys_unanswered_findings() -> None:
    form = {
        "complaint": ["neck_pain"],
        "findings": {"fever": True},
        "surgeries": [{"procedure": "acdf", "years_ago": 1}],
        "imaging": [{"study": "ct", "region": "cervical", "findings": {"fracture": True}}],
    }
    fragment = {
        "complaint": ["neck_pain", "radiculopathy"],
        "findings": {"fever": False, "chills": False},
        "surgeries": [
            {"procedure": "acdf", "years_ago": 2},
            {"procedure": "cervical_laminoplasty", "years_ago": 5},
        ],
        "imaging": [
            {
                "study": "ct",
                "region": "cervical",
                "findings": {"fracture": False, "kyphosis": True},
            },
            {"study": "mri", "region": "cervical", "weeks_ago": 1, "findings": {"fracture": False}},
        ],
    }
    merged = merge_note(form, fragment)
    case = merged.case
    assert case["findings"] == {"fever": True, "chills": False}
    assert case["complaint"] == ["neck_pain", "radiculopathy"]
    assert [s["years_ago"] for s in case["surgeries"]] == [1, 5]
    assert case["imaging"][0]["findings"] == {"fracture": True, "kyphosis": True}
    assert case["imaging"][1]["study"] == "mri"
    assert merged.filled == {
        "complaint.radiculopathy": "complaint.radiculopathy",
        "findings.chills": "findings.chills",
        "surgeries[1]": "surgeries[1]",
        "imaging[0].findings.kyphosis": "imaging[0].findings.kyphosis",
        "imaging[1]": "imaging[1]",
        "imaging[1].findings.fracture": "imaging[1].findings.fracture",
    }
    assert form["findings"] == {"fever": True}  # the form's case is not changed


@pytest.mark.parametrize(
    ("path", "control"),
    [
        ("age", "age"),
        ("complaint.radiculopathy", "complaint-radiculopathy"),
        ("findings.fever", "finding-fever"),
        ("surgeries[1]", "surgery-1"),
        ("imaging[0]", "imaging-0"),
        ("imaging[2].findings.screw_backout", "imaging-2-finding-screw_backout"),
        ("nonsense", None),
    ],
)
def test_case_paths_name_their_form_controls(path: str, control: str | None) -> None:
    assert control_of(path) == control


def test_times_since_are_moved_by_the_days_since_the_note() -> None:
    fragment = {
        "surgeries": [{"procedure": "acdf", "months_ago": 6}],
        "imaging": [{"study": "ct", "region": "cervical", "weeks_ago": 2}],
    }
    moved = count_to_today(fragment, date(2026, 1, 1), date(2026, 1, 15))
    assert moved["surgeries"][0]["months_ago"] == 6.5
    assert moved["imaging"][0]["weeks_ago"] == 4
    assert count_to_today(fragment, TODAY, TODAY) == fragment
    assert fragment["imaging"][0]["weeks_ago"] == 2  # the reading itself is not changed


def test_every_assertion_has_a_worded_tag() -> None:
    from spinecds.nlp.model import ASSERTIONS

    assert tuple(ASSERTION_TAGS) == ASSERTIONS
    assert len({t.word for t in ASSERTION_TAGS.values()}) == len(ASSERTIONS)
