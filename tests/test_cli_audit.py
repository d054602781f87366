"""``spinecds audit list|show|export|upgrade`` against a temporary audit log.

The database comes from SPINECDS_DATABASE_URL, as for every interface; tests that take
``database_url`` run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spinecds.cli import main
from spinecds.config import get_settings
from spinecds.store import AuditStore, NewAssessment, parse_export

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def record(store: AuditStore, **overrides: Any) -> str:
    data: dict[str, Any] = {
        "interface": "rest",
        "client": "127.0.0.1",
        "input": {"age": 61, "complaint": ["neck_pain"]},
        "output": {"urgency": "routine", "next_imaging": ["radiography"]},
        "knowledge_version": "0.3.0+5f2c",
        "case_id": "seed-001",
        "urgency": "routine",
        "pathway": "post_surgical_no_red_flags",
        "started_at": T0,
        "duration_ms": 0.4,
    }
    data.update(overrides)
    return store.record_assessment(NewAssessment(**data))


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SPINECDS_DATABASE_URL", url)
    get_settings.cache_clear()  # settings are read once per process: read them again


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    yield
    get_settings.cache_clear()  # the next test reads its own environment


@pytest.fixture
def log(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditStore]:
    """An audit log with three assessments, oldest to newest: rest, cds-hooks, web."""
    use_database(monkeypatch, database_url)
    store = AuditStore.from_url(database_url)
    store.upgrade()
    record(store, started_at=T0)
    record(
        store,
        interface="cds-hooks",
        client="https://ehr.example.org",
        started_at=T0 + timedelta(hours=1),
    )
    record(
        store,
        interface="web",
        status="rejected",
        output=None,
        error="age: missing",
        case_id=None,
        urgency=None,
        pathway=None,
        started_at=T0 + timedelta(hours=2),
    )
    yield store
    store.close()


def ids_in(text: str, store: AuditStore) -> list[str]:
    """The known ids in the order they appear in a listing."""
    known = {row.id for row in store.list_assessments(limit=1000)}
    return [word for word in text.split() if word.strip("│┃") in known]


def test_list_shows_the_newest_first(log: AuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "list"]) == 0
    out = capsys.readouterr().out
    assert ids_in(out, log) == [row.id for row in log.list_assessments()]
    assert "3 of 3 assessment(s)" in out
    assert "cds-hooks" in out and "rejected" in out


def test_list_filters(log: AuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    newest, middle, oldest = (row.id for row in log.list_assessments())

    assert main(["audit", "list", "--interface", "cds-hooks"]) == 0
    assert ids_in(capsys.readouterr().out, log) == [middle]

    assert main(["audit", "list", "--since", "2025-03-01T10:45:00+01:00"]) == 0
    assert ids_in(capsys.readouterr().out, log) == [newest]

    assert main(["audit", "list", "--limit", "1", "--offset", "2"]) == 0
    out = capsys.readouterr().out
    assert ids_in(out, log) == [oldest]
    assert "1 of 3" in out


def test_show_prints_the_whole_record(log: AuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    summary = log.list_assessments(interface="cds-hooks")[0]
    assert main(["audit", "show", summary.id]) == 0
    shown = json.loads(capsys.readouterr().out)
    stored = log.get_assessment(summary.id)
    assert stored is not None
    assert shown == stored.to_json_dict()
    assert shown["input"] == {"age": 61, "complaint": ["neck_pain"]}


def test_show_an_unknown_id_exits_2(log: AuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "show", "0123456789abcdef"]) == 2
    err = capsys.readouterr().err
    assert "No assessment with id '0123456789abcdef'" in err
    assert "spinecds audit list" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_to_a_file_parses_back(
    log: AuditStore, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exports" / f"audit.{fmt}"
    out.parent.mkdir()
    assert main(["audit", "export", "--format", fmt, "--out", str(out)]) == 0
    assert "exported 3 assessment(s)" in capsys.readouterr().err
    with out.open(encoding="utf-8", newline="") as stream:
        exported = list(parse_export(stream, fmt))
    expected = [log.get_assessment(row.id) for row in reversed(log.list_assessments())]
    assert exported == expected
    assert list(out.parent.iterdir()) == [out]  # no partial file left behind


def test_export_to_stdout_with_filters(log: AuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--interface", "web", "--since", "2025-03-01"]) == 0
    captured = capsys.readouterr()
    (exported,) = parse_export(io.StringIO(captured.out), "jsonl")
    assert exported.interface == "web" and exported.status == "rejected"
    assert "exported 1 assessment(s) to stdout" in captured.err


def test_export_refuses_an_unknown_format(
    log: AuditStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "export", "--format", "xml"]) == 2
    assert "xml" in capsys.readouterr().err


def test_a_bad_since_exits_2(log: AuditStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "list", "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "--since" in err and "ISO 8601" in err


def test_a_missing_sqlite_file_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nowhere" / "audit.db"
    use_database(monkeypatch, f"sqlite:///{path}")
    assert main(["audit", "list"]) == 2
    assert "There is no audit log at" in capsys.readouterr().err
    assert not path.exists()


def test_upgrade_creates_the_schema_that_list_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.db"
    sqlite3.connect(path).close()  # an empty database: a file, no tables
    use_database(monkeypatch, f"sqlite:///{path}")

    assert main(["audit", "list"]) == 2
    assert "run `spinecds audit upgrade`" in capsys.readouterr().err

    assert main(["audit", "upgrade"]) == 0
    assert "schema at revision 0001" in capsys.readouterr().out
    assert main(["audit", "list"]) == 0
    assert "0 of 0 assessment(s)" in capsys.readouterr().out


def test_audit_without_a_command_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    main(["audit"])
    out = capsys.readouterr().out
    for command in ("list", "show", "export", "upgrade"):
        assert command in out


def test_export_to_an_unwritable_path_exits_2(
    log: AuditStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing-folder" / "audit.jsonl"
    assert main(["audit", "export", "--out", str(out)]) == 2
    assert "The export file cannot be written" in capsys.readouterr().err
    assert not out.parent.exists()
