"""Start from a note, in a real browser against a real server.

A clinician pastes a seed-001-like note (58, C5-C6 ACDF two years ago, a month of
worsening neck pain with tingling down the arm, red flags denied), reads it, checks the
marks and the filled form, adds what the note does not say, and assesses: radiographs
come first.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian chromium)"),
]

NOTE = """Spine clinic follow-up

HPI: 58-year-old man, 2 years after C5-6 ACDF. A month of increasing achy neck pain,
and for two weeks tingling down the right arm into the thumb. He denies fevers, chills
or night sweats. No recent trauma. No history of cancer. Possible weight loss.

Exam: Incision well healed without erythema. Spurling sign positive on the right.
Plan: if no better, consider MRI.
"""


def test_a_pasted_note_fills_the_form_and_assesses(
    page: Any, base_url: str, artifacts: Path
) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("Clinic note or radiology report").fill(NOTE)
    assert page.get_by_label("Note written on").input_value() == date.today().isoformat()
    page.get_by_role("button", name="Read the note").click()
    page.wait_for_url("**/note")

    marks = page.locator(".note-text mark")
    assert marks.count() >= 8
    fevers = page.locator(".note-text mark", has_text="fevers")
    tag = fevers.evaluate("m => m.nextElementSibling.textContent")
    assert tag.startswith("✗ absent: Filled Fever: absent.")
    weight = page.locator(".note-text mark", has_text="weight loss")
    assert "m-possible" in (weight.get_attribute("class") or "")
    assert page.locator("#finding-fever-absent").is_checked()
    assert page.locator("#finding-unexplained_weight_loss-unknown").is_checked()
    assert page.locator("#surgery-0-procedure").input_value() == "acdf"
    assert "From the note" in page.locator("#finding-fever-note").inner_text()

    # The mark's tag leads to the field it filled, and the field back to the words.
    page.locator(".note-text a.m-tag[href='#finding-fever']").click()
    assert page.evaluate("location.hash") == "#finding-fever"
    page.locator("#finding-fever-note a").click()
    assert page.evaluate("location.hash").startswith("#m-")
    page.screenshot(path=str(artifacts / "note-read.png"), full_page=False)

    # What the note does not say, the clinician adds; then Assess.
    page.get_by_label("Weeks this episode has lasted").fill("4")
    page.get_by_label("Course").select_option("increasing")
    page.get_by_role("button", name="Assess").click()
    page.wait_for_url("**/report/*")
    first_row = page.locator("table.imaging tbody tr").first
    assert "Radiography cervical spine" in first_row.inner_text()


def test_the_read_note_fits_a_phone_screen(page: Any, base_url: str) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{base_url}/")
    page.get_by_label("Clinic note or radiology report").fill(NOTE)
    page.get_by_role("button", name="Read the note").click()
    page.wait_for_url("**/note")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]


def test_an_empty_note_is_named_at_the_box(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("Age in years").fill("58")
    page.get_by_role("button", name="Read the note").click()
    page.wait_for_selector(".error-summary")
    assert "Paste the text" in page.locator("#note-error").inner_text()
    assert page.get_by_label("Age in years").input_value() == "58"
