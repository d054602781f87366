"""``spinecds synth`` and ``spinecds batch`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinecds.cli import main


def test_synth_then_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "pop" / "cases.jsonl"
    assert main(["synth", "--n", "120", "--seed", "3", "--out", str(cases)]) == 0
    assert "120 synthetic patients" in capsys.readouterr().out
    out = tmp_path / "out"
    code = main(["batch", str(cases), "--out", str(out), "--workers", "1", "--chunk-size", "50"])
    printed = capsys.readouterr()
    assert code == 0
    assert "120 patients and" in printed.out and "0 records rejected" in printed.out
    assert f"report:  {out / 'report.html'}" in printed.out
    assert "records" in printed.err and "120/120" in printed.err  # the progress bar
    code = main(["batch", str(cases), "--out", str(out), "--chunk-size", "50", "--quiet"])
    printed = capsys.readouterr()
    assert code == 0 and "3 of 3 chunks from an earlier run" in printed.out
    assert printed.err == ""


def test_bad_arguments_get_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "cases.csv"
    table.write_text("complaint,fevr\nneck_pain,true\n")
    assert main(["batch", str(table), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "fevr: unknown column" in err and "Traceback" not in err
    assert main(["batch", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    code = main(["batch", str(table), "--out", str(tmp_path / "o2"), "--as-of", "soon"])
    assert code == 2 and "YYYY-MM-DD" in capsys.readouterr().err
