"""CSV and Parquet input: the documented columns, chunk boundaries, and clear rejects."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinecds import CaseError, KnowledgeBase
from spinecds.batch.columns import check_header, row_to_case
from spinecds.batch.records import Ready, Rejected, assess_records
from spinecds.batch.sources import CsvSource, Job, JsonLinesSource, ParquetSource, detect_format

HEADER = [
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
    "surgery1_procedure",
    "surgery1_levels",
    "surgery1_years_ago",
    "imaging1_study",
    "imaging1_region",
    "imaging1_weeks_ago",
    "imaging1_findings_present",
]
ROW = {
    "id": "seed-001",
    "patient_id": "p1",
    "record_date": "2025-03-14",
    "age": "58",
    "sex": "male",
    "complaint": "neck_pain; radiculopathy",
    "symptom_weeks": "4",
    "course": "increasing",
    "findings_present": "arm_paresthesia;radicular_arm_pain",
    "findings_absent": "fever;recent_trauma",
    "motor_grade": "",
    "treatments": "physical_therapy:0;nsaids",
    "proposed_order": "MRI cervical spine without IV contrast",
    "surgery1_procedure": "acdf",
    "surgery1_levels": "C5-C6",
    "surgery1_years_ago": "2",
    "imaging1_study": "radiography",
    "imaging1_region": "cervical",
    "imaging1_weeks_ago": "0",
    "imaging1_findings_present": "hardware_intact",
}
AS_CASE = {
    "id": "seed-001",
    "age": 58.0,
    "sex": "male",
    "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2.0}],
    "complaint": ["neck_pain", "radiculopathy"],
    "symptom_weeks": 4.0,
    "course": "increasing",
    "findings": {
        "arm_paresthesia": True,
        "radicular_arm_pain": True,
        "fever": False,
        "recent_trauma": False,
    },
    "imaging": [
        {
            "study": "radiography",
            "region": "cervical",
            "weeks_ago": 0.0,
            "findings": {"hardware_intact": True},
        }
    ],
    "treatments": [{"treatment": "physical_therapy", "weeks": 0.0}, {"treatment": "nsaids"}],
    "proposed_order": "MRI cervical spine without IV contrast",
}


def _job(path: Path, fmt: str, chunk: int = 2) -> Job:
    return Job(str(path), fmt, str(path.parent / "out"), chunk)


def _csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _read_all(source: Any, work: Path) -> list[Ready | Rejected]:
    return [rec for spec in source.plan(work) for rec in source.read(spec)]


def test_a_row_becomes_the_case_it_describes() -> None:
    case, patient, when = row_to_case(ROW)
    assert case == AS_CASE
    assert patient == "p1" and str(when) == "2025-03-14"


def test_no_operation_columns_mean_surgery_naive_and_blank_cells_stay_unknown() -> None:
    case, _, _ = row_to_case({"complaint": "neck_pain", "findings_absent": "", "age": ""})
    assert case == {"surgeries": [], "complaint": ["neck_pain"], "findings": {}}


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ({"age": "fifty"}, "age"),
        ({"motor_grade": "true"}, "motor_grade"),
        ({"findings_present": "fever", "findings_absent": "fever"}, "findings_absent"),
        ({"record_date": "yesterday"}, "record_date"),
        ({"surgery2_levels": "C5-C6"}, "surgery2_procedure"),
        ({"treatments": "nsaids:two"}, "treatments"),
    ],
)
def test_a_bad_cell_names_its_column(cells: dict[str, str], field: str) -> None:
    with pytest.raises(CaseError) as caught:
        row_to_case({"complaint": "neck_pain", **cells})
    assert [p.field for p in caught.value.problems] == [field]


def test_unknown_and_repeated_columns_are_refused_with_suggestions() -> None:
    with pytest.raises(CaseError) as caught:
        check_header(["complaint", "findigs_present", "surgery1_procedur", "age", "age"])
    problems = {p.field: p for p in caught.value.problems}
    assert problems["findigs_present"].suggestions[0] == "findings_present"
    assert problems["surgery1_procedur"].suggestions[0] == "surgery1_procedure"
    assert "twice" in problems["age"].problem
    check_header(["complaint", "surgery12_procedure", "imaging3_findings_absent"])


def test_csv_chunks_split_between_rows_even_with_quoted_line_breaks(tmp_path: Path) -> None:
    rows = [dict(ROW, id=f"c{i}") for i in range(5)]
    rows[1]["course"] = "stable"
    rows[2]["findings_present"] = "wound_drainage;\nnight_pain"  # a cell on two lines
    path = _csv(tmp_path / "cases.csv", rows)
    source = CsvSource(_job(path, "csv"))
    specs = source.plan(tmp_path)
    assert [(s.first, s.size) for s in specs] == [(2, 2), (4, 2), (7, 1)]
    records = _read_all(source, tmp_path)
    assert [r.record for r in records] == [f"cases.csv:{n}" for n in (2, 3, 4, 6, 7)]
    assert all(isinstance(r, Ready) for r in records)
    findings = records[2].data["findings"]  # type: ignore[union-attr]
    assert findings["wound_drainage"] is True and findings["night_pain"] is True


def test_a_short_csv_row_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["complaint", "age"])
    writer.writerow(["neck_pain", "50"])
    writer.writerow(["neck_pain"])
    path.write_text(text.getvalue(), encoding="utf-8")
    records = _read_all(CsvSource(_job(path, "csv")), tmp_path)
    assert isinstance(records[1], Rejected)
    assert records[1].record == "cases.csv:3" and "1 cells" in records[1].reason


def test_csv_header_problems_stop_the_plan(tmp_path: Path) -> None:
    path = _csv(tmp_path / "cases.csv", [], header=["complaint", "fevr"])
    with pytest.raises(CaseError, match="columns"):
        CsvSource(_job(path, "csv")).plan(tmp_path)


def test_parquet_takes_typed_and_list_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["q1", "q2"],
            "age": [58.0, None],
            "complaint": [["neck_pain"], ["neck_pain", "radiculopathy"]],
            "findings_absent": ["fever", None],
            "surgery1_procedure": ["acdf", None],
            "surgery1_weeks_ago": [10, None],
        }
    )
    path = tmp_path / "cases.parquet"
    pq.write_table(table, path, row_group_size=1)
    source = ParquetSource(_job(path, "parquet"))
    assert [(s.index, s.first, s.size) for s in source.plan(tmp_path)] == [(0, 1, 1), (1, 2, 1)]
    first, second = _read_all(source, tmp_path)
    assert isinstance(first, Ready) and isinstance(second, Ready)
    assert first.record == "cases.parquet:row 1"
    assert first.data == {
        "id": "q1",
        "age": 58.0,
        "surgeries": [{"procedure": "acdf", "weeks_ago": 10.0}],
        "complaint": ["neck_pain"],
        "findings": {"fever": False},
    }
    assert second.data["surgeries"] == [] and second.data["complaint"][1] == "radiculopathy"


def test_the_same_cases_give_the_same_rows_from_jsonl_csv_and_parquet(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    import json

    rows = [dict(ROW, id=f"c{i}", age=str(40 + i)) for i in range(4)]
    csv_path = _csv(tmp_path / "cases.csv", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "cases.parquet")
    lines = [json.dumps({**AS_CASE, "id": f"c{i}", "age": 40.0 + i}) for i in range(4)]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n")
    results = []
    for source in (
        CsvSource(_job(csv_path, "csv")),
        ParquetSource(_job(tmp_path / "cases.parquet", "parquet")),
        JsonLinesSource(_job(tmp_path / "cases.jsonl", "jsonl")),
    ):
        columns = assess_records(_read_all(source, tmp_path), kb).columns
        del columns["record"], columns["patient_id"], columns["record_date"]
        results.append(columns)
    assert results[0] == results[1] == results[2]
    assert results[0]["order_verdict"][0] is not None


def test_the_format_comes_from_the_name(tmp_path: Path) -> None:
    assert detect_format(tmp_path) == "fhir-bulk"
    assert detect_format(tmp_path / "x.NDJSON") == "jsonl"
    assert detect_format(tmp_path / "x.csv") == "csv"
    with pytest.raises(CaseError, match="format"):
        detect_format(tmp_path / "x.xlsx")
