"""The audit report: self-contained HTML with inline SVG charts, from the summary counts."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from spinecds.batch.output import Layout
from spinecds.batch.report import dose_range, render_report
from spinecds.batch.summary import Summary
from spinecds.batch.svg import Series, hbars, vbars


def _summary() -> Summary:
    s = Summary(rows=9, patients=6, orders=5, rejects=1, due_imaging=4, with_questions=5)
    s.pathway_urgency = Counter(
        {("suspected_infection", "urgent"): 2, ("post_surgical_no_red_flags", "routine"): 4}
    )
    s.order_categories = Counter({("Usually Not Appropriate",): 3, ("Usually Appropriate",): 2})
    s.order_verdicts = Counter({("not_appropriate",): 3, ("appropriate",): 2})
    s.reconsider = Counter({("CT cervical spine with IV contrast <b>", "not_appropriate"): 3})
    s.radiation = Counter({("☢☢☢", "1-10 mSv"): 2, ("Varies", "Varies"): 1})
    s.orders_by_month = Counter({("2025-01", "appropriate"): 2, ("2025-02", "not_appropriate"): 3})
    s.patients_by_month = Counter({("(no date)", "routine"): 6})
    s.reject_reasons = Counter({("The line is not valid JSON.", ""): 1})
    s.knowledge_versions = Counter({("0.1.0+abc",): 9})
    return s


@pytest.fixture
def html(tmp_path: Path) -> str:
    layout = Layout(tmp_path)
    reject = {"record": "x.jsonl:3", "kind": "patient", "reason": "The line is not valid JSON."}
    layout.rejects.write_text(json.dumps({**reject, "problems": []}) + "\n")
    return render_report(layout, _summary(), "x.jsonl")


def test_the_report_is_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched


def test_the_report_has_each_chart(html: str) -> None:
    titles = re.findall(r"<svg[^>]*><title>([^<]+)</title>", html)
    assert titles == [
        "Patients per pathway and urgency",
        "Orders per ACR category",
        "The 1 most frequent orders to reconsider",
        "Orders rated Usually Not Appropriate, by relative radiation level",
        "Orders per month",
    ]
    assert "The input gives no dates for patients" in html
    assert "Suspected infection" in html  # pathway labels from the vocabulary


def test_radiation_totals_use_the_dose_bands_and_count_varying_doses_apart(html: str) -> None:
    assert "<b>2.0 to 20.0 mSv</b>" in html
    assert "1 orders have a dose that varies" in html


def test_text_from_the_data_is_escaped(html: str) -> None:
    assert "&lt;b&gt;" in html and "with IV contrast <b>" not in html


def test_rejects_are_listed_with_their_reason(html: str) -> None:
    assert "x.jsonl:3" in html and "rejects.jsonl" in html


@pytest.mark.parametrize(
    ("dose", "span"),
    [("1-10 mSv", (1.0, 10.0)), ("<0.1 mSv", (0.0, 0.1)), ("0 mSv", (0.0, 0.0)), ("Varies", None)],
)
def test_dose_range(dose: str, span: tuple[float, float] | None) -> None:
    assert dose_range(dose) == span


def test_bars_are_sized_by_their_counts() -> None:
    svg = hbars("t", [("a", [1, 3]), ("b", [2, 0])], [Series("x", "#111"), Series("y", "#222")])
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg)]
    # The axis runs to 5 (the next round number above the longest bar, 4): 84 px per unit.
    assert widths[2:] == pytest.approx([84.0, 252.0, 168.0])  # after the two legend boxes
    assert svg.count("<rect") == 2 + 3  # zero-count segments are not drawn
    column = vbars("t", [("2025-01", [8])], [Series("x", "#111")])  # ticks of 2: full height
    assert "2025-01" in column and 'height="200.0"' in column
