"""The audit report: one self-contained HTML file with inline SVG charts.

It opens from disk with no network and no scripts. It holds no clock time and no engine
name, so the same input gives the same report on either engine and on every rerun.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from html import escape
from itertools import islice

from spinecds.batch.output import Layout, atomic_write_text
from spinecds.batch.summary import NOT_RATED, RECONSIDER, Key, Summary
from spinecds.batch.svg import Series, hbars, vbars
from spinecds.knowledge.loader import default_kb

__all__ = ["dose_range", "render_report", "write_report"]

URGENCY = (("emergency", "#b03a2e"), ("urgent", "#e67e22"), ("routine", "#2e86c1"))
SHORT = {"emergency": "Emergency", "urgent": "Urgent", "routine": "Routine"}  # for legends
VERDICT = (
    ("appropriate", "#239b56"),
    ("consider_alternative", "#d4ac0d"),
    ("not_appropriate", "#b03a2e"),
)
CATEGORY_ORDER = (
    "Usually Appropriate",
    "May Be Appropriate",
    "May Be Appropriate (Disagreement)",
    "Usually Not Appropriate",
    NOT_RATED,
)
TOP_ORDERS = 15
SAMPLE_REJECTS = 20
_DOSE = re.compile(r"^\s*(<)?\s*([\d.]+)\s*(?:-\s*([\d.]+))?\s*mSv\s*$")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}td.n{text-align:right}
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #ccc;border-radius:6px;
padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.4rem}
.note{color:#555;font-size:.9rem}svg{max-width:100%;height:auto}
"""


def dose_range(dose: str) -> tuple[float, float] | None:
    """``'1-10 mSv'`` -> (1, 10); ``'<0.1 mSv'`` -> (0, 0.1); ``'Varies'`` -> None."""
    match = _DOSE.match(dose or "")
    if not match:
        return None
    low, high = float(match[2]), float(match[3] or match[2])
    return (0.0, low) if match[1] else (low, high)


def _label(kind: str, term: str) -> str:
    vocab = default_kb().vocabulary
    return vocab.label(kind, term) if term and vocab.has(kind, term) else term or "(none)"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = []
    for row in rows:
        tds = "".join(
            f'<td class="n">{v:,}</td>' if isinstance(v, int) else f"<td>{escape(str(v))}</td>"
            for v in row
        )
        body.append(f"<tr>{tds}</tr>")
    return f"<table><tr>{cells}</tr>{''.join(body)}</table>"


def _details(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return f"<details><summary>The numbers</summary>{_table(head, rows)}</details>"


def _pivot(counts: Counter[Key], keys: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for (row, column), n in counts.items():
        values = out.setdefault(row, [0] * len(keys))
        if column in keys:
            values[keys.index(column)] += n
    return out


def _pathways(s: Summary) -> str:
    keys = [u for u, _ in URGENCY]
    pivot = _pivot(s.pathway_urgency, keys)
    rows = sorted(pivot.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    labelled = [(_label("pathway", p), v) for p, v in rows]
    series = [Series(SHORT[u], c) for u, c in URGENCY]
    chart = hbars("Patients per pathway and urgency", labelled, series)
    table = [(name, *v, sum(v)) for name, v in labelled]
    return chart + _details(["pathway", *keys, "total"], table)


def _categories(s: Summary) -> str:
    counts = {k[0]: n for k, n in s.order_categories.items()}
    order = [c for c in CATEGORY_ORDER if c in counts] + sorted(set(counts) - set(CATEGORY_ORDER))
    rows = [(c, [counts[c]]) for c in order]
    chart = hbars("Orders per ACR category", rows, [Series("orders", "#5d6d7e")])
    return chart + _details(["ACR category", "orders"], [(c, v[0]) for c, v in rows])


def _reconsider(s: Summary) -> str:
    keys = list(RECONSIDER)
    pivot = _pivot(s.reconsider, keys)
    rows = sorted(pivot.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:TOP_ORDERS]
    if not rows:
        return '<p class="note">No order was rated for reconsideration.</p>'
    colours = dict(VERDICT)
    series = [Series(_label("verdict", v), colours[v]) for v in keys]
    title = f"The {len(rows)} most frequent orders to reconsider"
    chart = hbars(title, rows, series)
    return chart + _details(["order", *keys, "total"], [(o, *v, sum(v)) for o, v in rows])


def _radiation(s: Summary) -> str:
    rows = sorted(s.radiation.items(), key=_by_dose)
    if not rows:
        return '<p class="note">No order rated Usually Not Appropriate.</p>'
    low = high = 0.0
    varies = 0
    for (_, dose), n in rows:
        span = dose_range(dose)
        if span is None:
            varies += n
        else:
            low, high = low + n * span[0], high + n * span[1]
    bars = [(f"{rrl or '?'}  ({dose or 'dose not given'})", [n]) for (rrl, dose), n in rows]
    chart = hbars(
        "Orders rated Usually Not Appropriate, by relative radiation level",
        bars,
        [Series("orders", "#884ea0")],
    )
    total = (
        f"<p>Estimated effective dose of these orders, from the ACR relative radiation "
        f"levels: <b>{low:,.1f} to {high:,.1f} mSv</b> in total"
        + (f"; {varies:,} orders have a dose that varies and are not counted" if varies else "")
        + ".</p>"
    )
    table = [(rrl, dose, n) for (rrl, dose), n in rows]
    return total + chart + _details(["relative radiation level", "dose", "orders"], table)


def _by_dose(item: tuple[Key, int]) -> tuple[float, str]:
    """Lowest dose first; doses that vary (or are not given) last."""
    span = dose_range(item[0][1])
    return (span[0] if span else float("inf"), item[0][0])


def _months(counts: Counter[Key], pairs: Sequence[tuple[str, str]], kind: str, what: str) -> str:
    keys = [k for k, _ in pairs]
    pivot = _pivot(counts, keys)
    columns = sorted(pivot.items())
    if not columns or [m for m, _ in columns] == ["(no date)"]:
        return f'<p class="note">The input gives no dates for {what}, so no trend is shown.</p>'
    series = [Series(SHORT.get(k) or _label(kind, k), c) for k, c in pairs]
    chart = vbars(f"{what.capitalize()} per month", columns, series)
    return chart + _details(["month", *keys, "total"], [(m, *v, sum(v)) for m, v in columns])


def _cards(s: Summary) -> str:
    cards = [
        ("patients", s.patients),
        ("orders reviewed", s.orders),
        ("rejected records", s.rejects),
        ("patients due for imaging now", s.due_imaging),
        ("patients with open questions", s.with_questions),
    ]
    urgent = sum(n for (_, u), n in s.pathway_urgency.items() if u != "routine")
    cards.insert(1, ("patients on an urgent or emergency pathway", urgent))
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{n:,}</b>{escape(text)}</div>' for text, n in cards)
        + "</div>"
    )


def _problems(problems: list[dict[str, str]]) -> str:
    return "; ".join(f"{p['field']}: {p['problem']}" for p in problems)


def _rejects(layout: Layout, s: Summary) -> str:
    if not s.rejects:
        return "<p>No record was rejected.</p>"
    reasons = sorted(s.reject_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    out = _table(["reason", "first field", "records"], [(r, f, n) for (r, f), n in reasons])
    with open(layout.rejects, encoding="utf-8") as handle:
        sample = [json.loads(line) for line in islice(handle, SAMPLE_REJECTS)]
    rows = [
        (
            r["record"],
            r["reason"],
            "; ".join(f"{p['field']}: {p['problem']}" for p in r["problems"]),
        )
        for r in sample
    ]
    out += f"<p>The first {len(rows)} of {s.rejects:,} (all are in <code>rejects.jsonl</code>):</p>"
    return out + _table(["record", "reason", "problems"], rows)


def render_report(layout: Layout, s: Summary, source: str) -> str:
    versions = ", ".join(k[0] for k in sorted(s.knowledge_versions)) or default_kb().version
    sections = [
        ("Overview", _cards(s)),
        ("Patients per pathway and urgency", _pathways(s)),
        ("Orders per ACR category", _categories(s)),
        ("Most frequent orders to reconsider", _reconsider(s)),
        ("Radiation from orders rated Usually Not Appropriate", _radiation(s)),
        ("Orders by month", _months(s.orders_by_month, VERDICT, "verdict", "orders")),
        ("Patients by month", _months(s.patients_by_month, URGENCY, "urgency", "patients")),
        ("Rejected records", _rejects(layout, s)),
    ]
    body = "".join(f"<h2>{escape(title)}</h2>{html}" for title, html in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>spinecds population audit</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Population audit: neck pain after spine surgery</h1>"
        f'<p class="note">Input: <code>{escape(source)}</code>. Knowledge version: '
        f"{escape(versions)}. Orders are reviewed against the ACR Appropriateness Criteria; "
        "a pathway or rating is decision support for a clinician, not a diagnosis.</p>"
        f"{body}</body></html>\n"
    )


def write_report(layout: Layout, summary: Summary, source: str) -> None:
    atomic_write_text(layout.report, render_report(layout, summary, source))
