"""Batch runs end to end with the local engine: results, rejects, resume, idempotence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from spinecds import KnowledgeBase, SpinecdsError, assess, parse_case
from spinecds.batch import ChunkDone, EngineOptions, get_engine, register_engine, run_batch
from spinecds.batch.engines import engine_names, process_chunk
from spinecds.batch.sources import ChunkSpec, Job
from spinecds.batch.synth import generate

CHUNK = 40


def _files(out: Path) -> dict[str, bytes]:
    """Every output file a user reads, by path (bytes)."""
    names = ["rejects.jsonl", "summary.csv", "report.html"]
    names += sorted(str(p.relative_to(out)) for p in (out / "results").glob("*.parquet"))
    return {name: (out / name).read_bytes() for name in names}


@pytest.fixture(scope="module")
def cases_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 synthetic cases with bad lines among them (line numbers in the comments)."""
    path = tmp_path_factory.mktemp("batch") / "cases.jsonl"
    lines = [json.dumps(p.case) for p in generate(100, seed=5)]
    bad_term = json.loads(lines[10])
    bad_term["findings"]["fevr"] = True
    lines[10] = json.dumps(bad_term)  # line 11: a misspelt finding
    lines[20] = "{not json"  # line 21
    lines[30] = "[1, 2]"  # line 31: JSON, but not an object
    dated = json.loads(lines[40])
    dated["record_date"] = "14/03/2025"
    lines[40] = json.dumps(dated)  # line 41: a date in the wrong form
    lines.insert(50, "")  # line 51: blank, skipped without a reject
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first_run(cases_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    run_batch(cases_file, out, workers=2, chunk_size=CHUNK)
    return out


def test_every_record_is_a_row_or_a_reject(first_run: Path) -> None:
    table = pq.read_table(first_run / "results")
    rejects = [json.loads(x) for x in (first_run / "rejects.jsonl").read_text().splitlines()]
    assert table.num_rows == 96
    assert [r["record"] for r in rejects] == [
        "cases.jsonl:11",
        "cases.jsonl:21",
        "cases.jsonl:31",
        "cases.jsonl:41",
    ]
    assert rejects[0]["problems"][0]["field"] == "findings.fevr"
    assert rejects[0]["problems"][0]["suggestions"] == ["fever"]
    assert "not valid JSON" in rejects[1]["reason"]
    assert "not a case object" in rejects[2]["reason"]
    assert rejects[3]["problems"][0]["field"] == "record_date"
    records = table.column("record").to_pylist()
    assert "cases.jsonl:51" not in records and "cases.jsonl:52" in records


def test_rows_hold_what_the_engine_answers(first_run: Path, kb: KnowledgeBase) -> None:
    rows = {r["case_id"]: r for r in pq.read_table(first_run / "results").to_pylist()}
    checked_orders = 0
    for patient in generate(100, seed=5):
        row = rows.get(patient.case["id"])
        if row is None:
            continue  # one of the damaged lines
        data = {k: v for k, v in patient.case.items() if k not in ("patient_id", "record_date")}
        a = assess(parse_case(data, kb.vocabulary, kb.procedures), kb).to_json_dict()
        assert row["pathway"] == a["pathway"]
        assert row["urgency"] == a["urgency"]
        assert row["referral"] == a["referral"]
        assert row["acr_variant"] == (a["acr"]["key"] if a["acr"] else None)  # type: ignore[index]
        assert row["next_imaging"] == a["next_imaging"]
        assert row["open_questions"] == len(a["questions"])  # type: ignore[arg-type]
        assert row["knowledge_version"] == kb.version
        assert row["patient_id"] == patient.patient_id
        assert row["record_date"] == patient.record_date
        review: Any = a["order_review"]
        if review is None:
            assert row["order"] is None and row["order_verdict"] is None
        else:
            checked_orders += 1
            assert row["order"] == review["order"]
            assert row["order_category"] == review["category"]
            assert row["order_verdict"] == review["verdict"]
            assert row["order_rrl"] == review["rrl"]
    assert checked_orders > 10


def test_summary_counts_match_the_rows(first_run: Path) -> None:
    table = pq.read_table(first_run / "results")
    lines = (first_run / "summary.csv").read_text().splitlines()
    assert lines[0] == "section,key,subkey,count"
    assert "totals,patients,,96" in lines
    assert "totals,rejects,,4" in lines
    orders = sum(v is not None for v in table.column("order").to_pylist())
    assert f"totals,orders,,{orders}" in lines
    pathways = sum(int(x.rsplit(",", 1)[1]) for x in lines if x.startswith("patients_by_pathway"))
    assert pathways == 96


def test_a_rerun_skips_finished_chunks_and_gives_the_same_files(
    first_run: Path, cases_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run, out)
    before = _files(out)
    (out / "results" / "part-00001.parquet").unlink()  # as if the run died there
    (out / "report.html").unlink()
    seen: list[ChunkDone] = []

    class Record:
        def start(self, total: int, done: int, unit: str) -> None:
            assert (total, done, unit) == (101, 101 - CHUNK, "records")

        def advance(self, chunk: ChunkDone) -> None:
            seen.append(chunk)

    result = run_batch(cases_file, out, workers=1, chunk_size=CHUNK, progress=Record())
    assert [c.index for c in seen] == [1]
    assert result.resumed == 2 and result.chunks == 3
    assert _files(out) == before


def test_a_fresh_run_writes_identical_bytes(
    first_run: Path, cases_file: Path, tmp_path: Path
) -> None:
    run_batch(cases_file, tmp_path / "again", workers=1, chunk_size=CHUNK)
    assert _files(tmp_path / "again") == _files(first_run)


def test_a_changed_input_is_not_mixed_with_an_earlier_run(
    first_run: Path, cases_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run, out)
    with pytest.raises(SpinecdsError) as caught:
        run_batch(cases_file, out, chunk_size=CHUNK + 1)
    assert "chunk_size" in str(caught.value)
    assert "--restart" in str(caught.value)


def test_the_output_folder_must_not_hold_other_files(cases_file: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SpinecdsError, match="other files"):
        run_batch(cases_file, tmp_path, chunk_size=CHUNK)


def test_a_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpinecdsError, match="does not exist"):
        run_batch(tmp_path / "nope.jsonl", tmp_path / "out")


def test_unknown_engine_names_the_choices() -> None:
    with pytest.raises(SpinecdsError) as caught:
        get_engine("dask")
    assert "local" in str(caught.value) and "spark" in str(caught.value)


class InOrder:
    """A backend that runs chunks one after another in this process."""

    name = "in-order"

    def run(self, job: Job, chunks: list[ChunkSpec], on_done: Any) -> None:
        for spec in chunks:
            on_done(process_chunk(job, spec))


register_engine("in-order", lambda options: InOrder())


def test_a_registered_engine_runs_the_same_chunks(cases_file: Path, tmp_path: Path) -> None:
    assert "in-order" in engine_names()
    assert isinstance(get_engine("in-order", EngineOptions()), InOrder)
    result = run_batch(cases_file, tmp_path / "out", engine="in-order", chunk_size=CHUNK)
    assert (result.patients, result.rejects) == (96, 4)


def test_a_run_that_died_while_planning_is_planned_again(cases_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "_batch" / "stage.tmp").mkdir(parents=True)  # no plan.json yet
    result = run_batch(cases_file, out, engine="in-order", chunk_size=CHUNK)
    assert (result.resumed, result.patients) == (0, 96)
