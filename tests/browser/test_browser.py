"""The web page in a real browser against a real server: form, report, answers, keyboard.

The seed-001 man (58, C5-C6 ACDF two years ago, four weeks of increasing neck pain and
radiculopathy, arm paresthesia, red flags asked and absent) is entered through the form
as a clinician would; the report must recommend radiographs first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from spinecds.web.forms import form_values

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian chromium)"),
]

SEED_ABSENT = (
    "recent_trauma",
    "fever",
    "chills",
    "night_sweats",
    "wound_erythema",
    "cancer_history",
    "unexplained_weight_loss",
    "night_pain",
    "progressive_neurologic_deficit",
)
SEED = Path(__file__).resolve().parents[2] / "examples" / "post-acdf-radiculopathy.yaml"
MAX_TABS = 400  # the form has about 150 tab stops; more means focus is trapped somewhere


def enter_seed_case(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("Case label (optional)").fill("seed-001")
    page.get_by_label("Age in years").fill("58")
    page.get_by_label("Sex").select_option("male")
    page.locator("#surgery-0-procedure").select_option("acdf")
    page.locator("#surgery-0-levels").fill("C5-C6")
    page.locator("#surgery-0-time").fill("2")
    page.locator("#surgery-0-unit").select_option("years")
    page.get_by_label("Neck pain", exact=True).check()
    page.get_by_label("Cervical radiculopathy").check()
    page.get_by_label("Weeks this episode has lasted").fill("4")
    page.get_by_label("Course").select_option("increasing")
    page.locator("#finding-neck_pain-present").check()
    page.locator("#finding-arm_paresthesia-present").check()
    for finding in SEED_ABSENT:
        page.locator(f"#finding-{finding}-absent").check()
    page.get_by_role("button", name="Assess").click()
    page.wait_for_url("**/report/*")


def seed_report(base_url: str) -> str:
    """The seed case's report URL, posted without the browser (for tests about the report)."""
    values = form_values(yaml.safe_load(SEED.read_text()))
    data = {name: list(v) for name, v in values.values.items()}
    response = httpx.post(f"{base_url}/assess", data=data, timeout=10.0)
    assert response.status_code == 303, response.text[:2000]
    return base_url + response.headers["location"]


def test_seed_case_through_the_form_recommends_radiographs_first(
    page: Any, base_url: str, artifacts: Path
) -> None:
    enter_seed_case(page, base_url)
    banner = page.locator("section.banner")
    assert "Routine" in banner.inner_text()
    first_row = page.locator("table.imaging tbody tr").first
    assert "Radiography cervical spine" in first_row.inner_text()
    assert "Image first: Radiography cervical spine" in page.locator("section.do-now").inner_text()
    assert page.locator("svg.decision-path[role=img]").is_visible()
    chosen = page.locator("svg .dp-on title").all_text_contents()
    assert any("Radiography cervical spine" in text for text in chosen)
    # The top of the report for the README, and the whole page for whoever reviews it.
    page.set_viewport_size({"width": 1280, "height": 1000})
    height = page.evaluate(
        "document.querySelector('#s-path').closest('section')"
        ".getBoundingClientRect().bottom + window.scrollY"
    )
    page.screenshot(
        path=str(artifacts / "report.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": int(height) + 16},
    )
    assert (artifacts / "report.png").stat().st_size > 10_000


def test_answering_a_question_changes_the_report(page: Any, base_url: str) -> None:
    first_url = seed_report(base_url)
    page.goto(first_url)
    question = page.locator(
        "li.question", has=page.locator("input[value='findings.gait_imbalance']")
    )
    question.get_by_label("Present").check()
    question.get_by_role("button", name="Re-assess with this answer").click()
    page.wait_for_url("**/report/*?from=*")
    assert page.url != first_url
    assert "Urgent" in page.locator("section.banner").inner_text()
    changes = page.locator("section.changes").inner_text()
    assert "Urgency" in changes and "Routine" in changes and "Urgent" in changes
    assert "Myelopathy" in changes


def test_keyboard_alone_reaches_and_uses_the_submit_button(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement;"
            " return [e.tagName, e.textContent.trim(), getComputedStyle(e).outlineStyle]; })()"
        )
        if focused[:2] == ["BUTTON", "Assess"]:
            break
    else:
        pytest.fail(f"Assess not reached in {MAX_TABS} tab presses")
    assert focused[2] != "none"  # focus is visible
    page.keyboard.press("Enter")  # an empty form: the errors come back, summary focused
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.className") == "error-summary"
    assert "complaint" in page.locator(".error-summary").inner_text()


def test_handout_link_returns_a_pdf(page: Any, base_url: str) -> None:
    page.goto(seed_report(base_url))
    link = page.get_by_role("link", name="Patient handout (PDF)")
    response = page.request.get(base_url + link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")


def test_form_and_report_fit_a_phone_screen(page: Any, base_url: str) -> None:
    report = seed_report(base_url)
    page.set_viewport_size({"width": 375, "height": 800})
    for url in (f"{base_url}/", report):
        page.goto(url)
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], url
