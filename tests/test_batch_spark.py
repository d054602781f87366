"""The Spark engine (local[2], one session for the module) writes what the local engine writes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinecds import SpinecdsError
from spinecds.batch import run_batch
from spinecds.batch.sources import ChunkSpec, Job
from spinecds.batch.synth import generate, write_synthetic

pytestmark = pytest.mark.spark


def _files(out: Path) -> dict[str, bytes]:
    names = ["rejects.jsonl", "summary.csv", "report.html"]
    names += sorted(str(p.relative_to(out)) for p in (out / "results").glob("*.parquet"))
    return {name: (out / name).read_bytes() for name in names}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: Spark cannot start")
    from spinecds.batch.spark import spark_session, stop_spark_session

    session = spark_session("local[2]")
    yield session
    stop_spark_session()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spark") / "cases.jsonl"
    lines = [json.dumps(p.case) for p in generate(240, seed=21)]
    lines[7] = '{"complaint": ["neck_pain"], "surgeries": [], "findings": {"fevr": true}}'
    lines[99] = "not json"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_spark_and_local_write_identical_files_from_jsonl(
    spark: Any, cases: Path, tmp_path: Path
) -> None:
    local = run_batch(cases, tmp_path / "local", workers=2, chunk_size=60)
    on_spark = run_batch(cases, tmp_path / "spark", engine="spark", chunk_size=60)
    assert local.rejects == on_spark.rejects == 2
    assert _files(tmp_path / "local") == _files(tmp_path / "spark")
    assert len(list((tmp_path / "spark" / "results").glob("*.parquet"))) == 4


def test_spark_and_local_write_identical_files_from_a_fhir_export(
    spark: Any, tmp_path: Path
) -> None:
    write_synthetic(tmp_path / "export", n=120, seed=22, fmt="fhir-bulk")
    options: dict[str, Any] = {"chunk_size": 40, "procedures_complete": True}
    local = run_batch(tmp_path / "export", tmp_path / "local", workers=2, **options)
    run_batch(tmp_path / "export", tmp_path / "spark", engine="spark", **options)
    assert local.orders > 0
    assert _files(tmp_path / "local") == _files(tmp_path / "spark")


def test_spark_resumes_only_the_missing_chunks(spark: Any, cases: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch(cases, out, engine="spark", chunk_size=60)
    before = _files(out)
    (out / "results" / "part-00002.parquet").unlink()
    result = run_batch(cases, out, engine="spark", chunk_size=60)
    assert (result.resumed, result.chunks) == (3, 4)
    assert _files(out) == before


def test_a_failed_spark_job_is_reported_and_resumable(spark: Any, tmp_path: Path) -> None:
    from spinecds.batch.spark import SparkEngine

    job = Job(str(tmp_path / "gone.jsonl"), "jsonl", str(tmp_path / "out"), 10)
    with pytest.raises(SpinecdsError, match="Spark job failed") as caught:
        SparkEngine().run(job, [ChunkSpec(0, 0, 10, 1, 1)], lambda done: None)
    assert "resume" in str(caught.value)
