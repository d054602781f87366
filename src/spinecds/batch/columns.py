"""Table input (CSV or Parquet): one row per case, in documented flat columns.

A warehouse query can produce these columns directly; ``docs/batch.md`` lists them.
Lists (complaints, findings, levels, treatments) are ``;``-separated text in CSV and may
be list columns in Parquet. Repeated groups are numbered: ``surgery1_procedure``,
``surgery2_procedure``... An empty cell is unknown and is left out of the case, except
that a row without any ``surgeryN_procedure`` is a patient with no earlier spine operation
(the table form of ``surgeries: []``). Findings are stated, never guessed: a finding named
in neither ``findings_present`` nor ``findings_absent`` stays unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from spinecds.batch.records import parse_record_date
from spinecds.errors import CaseError, FieldProblem, nearest

__all__ = ["TableRow", "check_header", "row_to_case"]

_PLAIN = (
    "id",
    "patient_id",
    "record_date",
    "age",
    "sex",
    "complaint",
    "symptom_weeks",
    "course",
    "findings_present",
    "findings_absent",
    "motor_grade",
    "treatments",
    "proposed_order",
)
_TIME = ("weeks_ago", "months_ago", "years_ago")
_SURGERY = ("procedure", "levels", *_TIME)
_IMAGING = ("study", "region", *_TIME, "findings_present", "findings_absent")
_GROUP = re.compile(r"^(surgery|imaging)(\d{1,2})_([a-z_]+)$")
_FIX = "see the table columns in docs/batch.md"

TableRow = tuple[dict[str, Any], str | None, date | None]


def _all_names() -> list[str]:
    groups = [f"surgery1_{f}" for f in _SURGERY] + [f"imaging1_{f}" for f in _IMAGING]
    return [*_PLAIN, *groups]


def check_header(names: Sequence[str]) -> None:
    """Refuse a table whose columns we do not know (a typo would silently lose data)."""
    problems = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(FieldProblem(name, "the column appears twice.", "keep one"))
        seen.add(name)
        match = _GROUP.match(name)
        if name in _PLAIN:
            continue
        if match and int(match[2]) >= 1:
            fields = _SURGERY if match[1] == "surgery" else _IMAGING
            if match[3] in fields:
                continue
        problems.append(FieldProblem(name, "unknown column.", _FIX, nearest(name, _all_names())))
    if problems:
        raise CaseError("The table has columns spinecds does not know.", problems)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(column: str, value: Any, problems: list[FieldProblem]) -> float | None:
    if isinstance(value, bool):
        problems.append(FieldProblem(column, f"{value!r} is not a number.", "write a number"))
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        problems.append(FieldProblem(column, f"{value!r} is not a number.", "write a number"))
        return None


def _terms(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(";") if t.strip()]
    return [str(t).strip() for t in value if not _empty(t)]


def _findings(prefix: str, row: Mapping[str, Any], problems: list[FieldProblem]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for column, present in (
        (f"{prefix}findings_present", True),
        (f"{prefix}findings_absent", False),
    ):
        value = row.get(column)
        if _empty(value):
            continue
        for term in _terms(value):
            if out.get(term, present) != present:
                problems.append(
                    FieldProblem(
                        column,
                        f"{term!r} is listed as both present and absent.",
                        "keep it in one of the two columns",
                    )
                )
            out[term] = present
    return out


def _time(prefix: str, row: Mapping[str, Any], problems: list[FieldProblem]) -> dict[str, float]:
    out = {}
    for unit in _TIME:
        value = row.get(prefix + unit)
        if not _empty(value) and (number := _number(prefix + unit, value, problems)) is not None:
            out[unit] = number
    return out


def _groups(row: Mapping[str, Any], kind: str) -> list[str]:
    numbers = sorted({int(m[2]) for name in row if (m := _GROUP.match(name)) and m[1] == kind})
    return [f"{kind}{n}_" for n in numbers]


def _surgeries(row: Mapping[str, Any], problems: list[FieldProblem]) -> list[dict[str, Any]]:
    out = []
    for prefix in _groups(row, "surgery"):
        procedure = row.get(prefix + "procedure")
        rest = [row.get(prefix + f) for f in _SURGERY[1:]]
        if _empty(procedure):
            if not all(_empty(v) for v in rest):
                problems.append(
                    FieldProblem(prefix + "procedure", "missing.", "name the operation")
                )
            continue
        surgery: dict[str, Any] = {"procedure": str(procedure).strip()}
        if not _empty(levels := row.get(prefix + "levels")):
            surgery["levels"] = _terms(levels)
        surgery.update(_time(prefix, row, problems))
        out.append(surgery)
    return out


def _imaging(row: Mapping[str, Any], problems: list[FieldProblem]) -> list[dict[str, Any]]:
    out = []
    for prefix in _groups(row, "imaging"):
        study, region = row.get(prefix + "study"), row.get(prefix + "region")
        if _empty(study) and _empty(region):
            continue
        item: dict[str, Any] = {
            "study": None if _empty(study) else str(study).strip(),
            "region": None if _empty(region) else str(region).strip(),
        }
        item.update(_time(prefix, row, problems))
        if findings := _findings(prefix, row, problems):
            item["findings"] = findings
        out.append(item)
    return out


def _treatments(value: Any, problems: list[FieldProblem]) -> list[dict[str, Any]]:
    out = []
    for term in _terms(value):
        name, _, weeks = term.partition(":")
        item: dict[str, Any] = {"treatment": name.strip()}
        if weeks.strip() and (number := _number("treatments", weeks, problems)) is not None:
            item["weeks"] = number
        out.append(item)
    return out


def row_to_case(row: Mapping[str, Any]) -> TableRow:
    """Turn one table row into (case dict, patient id, record date).

    Raises CaseError naming the column and the fix; the vocabulary itself is checked
    later by ``parse_case``, which names the case field and suggests the nearest term.
    """
    problems: list[FieldProblem] = []
    case: dict[str, Any] = {
        "surgeries": _surgeries(row, problems),
        "complaint": [] if _empty(c := row.get("complaint")) else _terms(c),
    }
    for name in ("id", "sex", "course", "proposed_order"):
        if not _empty(value := row.get(name)):
            case[name] = str(value).strip()
    for name in ("age", "symptom_weeks"):
        value = row.get(name)
        if not _empty(value) and (number := _number(name, value, problems)) is not None:
            case[name] = number
    findings: dict[str, bool | float] = dict(_findings("", row, problems))
    grade = row.get("motor_grade")
    if not _empty(grade) and (number := _number("motor_grade", grade, problems)) is not None:
        findings["motor_grade"] = number
    case["findings"] = findings
    if imaging := _imaging(row, problems):
        case["imaging"] = imaging
    if not _empty(treatments := row.get("treatments")):
        case["treatments"] = _treatments(treatments, problems)
    patient = row.get("patient_id")
    try:
        when = parse_record_date(row.get("record_date"))
    except ValueError as exc:
        problems.append(FieldProblem("record_date", str(exc), "write YYYY-MM-DD"))
        when = None
    if problems:
        raise CaseError("The row cannot be read as a case.", problems)
    return case, None if _empty(patient) else str(patient).strip(), when
