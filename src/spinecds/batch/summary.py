"""The counts behind the audit: read back from the written results, one chunk at a time.

Summarising the files (rather than counting while assessing) means the summary always
matches the results exactly, after a resume too, and memory stays flat: each chunk file
is grouped by Arrow and only the small group counts are kept.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from spinecds.batch.output import Layout

__all__ = ["RECONSIDER", "USUALLY_NOT_APPROPRIATE", "Summary", "summarise"]

RECONSIDER = ("not_appropriate", "consider_alternative")  # verdicts worth a second look
USUALLY_NOT_APPROPRIATE = "Usually Not Appropriate"  # the ACR category, spelled as in the tables
NOT_RATED = "(not rated for this variant)"
NO_DATE = "(no date)"
NO_VARIANT = "(no ACR variant)"

Key = tuple[str, ...]


@dataclass
class Summary:
    rows: int = 0
    patients: int = 0
    orders: int = 0
    rejects: int = 0
    due_imaging: int = 0  # patients for whom imaging is recommended now
    with_questions: int = 0  # patients with at least one open question
    pathway_urgency: Counter[Key] = field(default_factory=Counter)
    variants: Counter[Key] = field(default_factory=Counter)
    first_imaging: Counter[Key] = field(default_factory=Counter)
    order_categories: Counter[Key] = field(default_factory=Counter)
    order_verdicts: Counter[Key] = field(default_factory=Counter)
    reconsider: Counter[Key] = field(default_factory=Counter)  # (order, verdict)
    radiation: Counter[Key] = field(default_factory=Counter)  # (rrl, dose) of UNA orders
    orders_by_month: Counter[Key] = field(default_factory=Counter)  # (month, verdict)
    patients_by_month: Counter[Key] = field(default_factory=Counter)  # (month, urgency)
    reject_reasons: Counter[Key] = field(default_factory=Counter)  # (reason, first field)
    knowledge_versions: Counter[Key] = field(default_factory=Counter)

    def sections(self) -> list[tuple[str, Counter[Key]]]:
        totals: Counter[Key] = Counter(
            {
                ("rows",): self.rows,
                ("patients",): self.patients,
                ("orders",): self.orders,
                ("rejects",): self.rejects,
                ("patients_due_for_imaging",): self.due_imaging,
                ("patients_with_open_questions",): self.with_questions,
            }
        )
        return [
            ("totals", totals),
            ("knowledge_version", self.knowledge_versions),
            ("patients_by_pathway_urgency", self.pathway_urgency),
            ("patients_by_acr_variant", self.variants),
            ("patients_by_first_next_imaging", self.first_imaging),
            ("orders_by_acr_category", self.order_categories),
            ("orders_by_verdict", self.order_verdicts),
            ("orders_to_reconsider", self.reconsider),
            ("radiation_usually_not_appropriate", self.radiation),
            ("orders_by_month_verdict", self.orders_by_month),
            ("patients_by_month_urgency", self.patients_by_month),
            ("rejects_by_reason", self.reject_reasons),
        ]

    def to_csv(self) -> str:
        """Long form: ``section,key,subkey,count``; sections in a fixed order, rows sorted."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["section", "key", "subkey", "count"])
        for name, counts in self.sections():
            ordered = sorted(counts.items()) if name != "totals" else list(counts.items())
            for key, count in ordered:
                cells = [*key, "", ""][:2]
                writer.writerow([name, *cells, count])
        return buffer.getvalue()


def _groups(table: Any, keys: list[str]) -> Iterable[tuple[Key, int]]:
    if table.num_rows == 0:
        return
    for row in table.group_by(keys).aggregate([([], "count_all")]).to_pylist():
        yield tuple(_text(row[k]) for k in keys), row["count_all"]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _month(day: str) -> str:
    return day[:7] if day else NO_DATE


_COLUMNS = [
    "kind",
    "pathway",
    "urgency",
    "acr_variant",
    "order",
    "order_category",
    "order_rrl",
    "order_rrl_dose",
    "order_verdict",
    "record_date",
    "next_imaging",
    "open_questions",
    "knowledge_version",
]


def _add_part(summary: Summary, table: Any) -> None:
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    summary.rows += table.num_rows
    for key, n in _groups(table, ["knowledge_version"]):
        summary.knowledge_versions[key] += n
    patients = table.filter(pc.equal(table["kind"], "patient"))
    summary.patients += patients.num_rows
    for key, n in _groups(patients, ["pathway", "urgency"]):
        summary.pathway_urgency[key] += n
    for (variant,), n in _groups(patients, ["acr_variant"]):
        summary.variants[(variant or NO_VARIANT,)] += n
    for (day, urgency), n in _groups(patients, ["record_date", "urgency"]):
        summary.patients_by_month[_month(day), urgency] += n
    due = pc.greater(pc.list_value_length(patients["next_imaging"]), 0)
    summary.due_imaging += pc.sum(due).as_py() or 0
    for row in patients.filter(due).column("next_imaging").to_pylist():
        summary.first_imaging[(row[0],)] += 1
    summary.with_questions += pc.sum(pc.greater(patients["open_questions"], 0)).as_py() or 0
    orders = table.filter(pc.is_valid(table["order"]))
    summary.orders += orders.num_rows
    for (category,), n in _groups(orders, ["order_category"]):
        summary.order_categories[(category or NOT_RATED,)] += n
    for key, n in _groups(orders, ["order_verdict"]):
        summary.order_verdicts[key] += n
    for (day, verdict), n in _groups(orders, ["record_date", "order_verdict"]):
        summary.orders_by_month[_month(day), verdict] += n
    doubtful = orders.filter(pc.is_in(orders["order_verdict"], value_set=_pa_strings(RECONSIDER)))
    for key, n in _groups(doubtful, ["order", "order_verdict"]):
        summary.reconsider[key] += n
    usually_not = orders.filter(pc.equal(orders["order_category"], USUALLY_NOT_APPROPRIATE))
    for key, n in _groups(usually_not, ["order_rrl", "order_rrl_dose"]):
        summary.radiation[key] += n


def _pa_strings(values: Iterable[str]) -> Any:
    import pyarrow as pa

    return pa.array(list(values), type=pa.string())


def _add_rejects(summary: Summary, layout: Layout) -> None:
    if not layout.rejects.exists():
        return
    with open(layout.rejects, encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            summary.rejects += 1
            problems = item["problems"]
            where = problems[0]["field"] if problems else ""
            summary.reject_reasons[item["reason"][:200], where] += 1


def summarise(layout: Layout, chunks: int) -> Summary:
    summary = Summary()
    for index in range(chunks):
        _add_part(summary, pq.read_table(layout.part(index), columns=_COLUMNS))
    _add_rejects(summary, layout)
    return summary
