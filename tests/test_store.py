"""The audit log (spinecds.store) on SQLite and PostgreSQL: round trips, ordering and
filters, exports, CDS Hooks feedback, the JWT replay cache, all-or-nothing writes, and
the Alembic schema (migrations create it, and agree with the models).

Every test that takes ``database_url`` runs twice: on a SQLite file and on PostgreSQL
(skipped, with the reason, when SPINECDS_TEST_POSTGRES_URL is not set).
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import JSON, Column, Integer, MetaData, event, inspect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError, OperationalError

import spinecds.store
from spinecds.store import (
    AssessmentSummary,
    AuditStore,
    NewAssessment,
    NewFeedback,
    StoreError,
    parse_export,
)
from spinecds.store.migrate import head_revision
from spinecds.store.models import Base
from spinecds.store.store import EXPORT_BATCH

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
TABLES = {"assessments", "feedback", "seen_jti"}


def new_assessment(**overrides: Any) -> NewAssessment:
    """A complete record: every field set, nothing left to its default."""
    data: dict[str, Any] = {
        "interface": "cds-hooks",
        "client": "https://ehr.example.org",
        "service": "spinecds-order-select",
        "input": {"age": 55, "complaint": ["neck_pain"], "note": "douleur cervicale ≥ 6 sem"},
        "output": {"urgency": "routine", "acr": [{"rating": 9, "radiation": None}]},
        "status": "ok",
        "error": "none; kept to test the field",
        "knowledge_version": "0.3.0+5f2c",
        "case_id": "seed-001",
        "urgency": "routine",
        "pathway": "post_surgical_no_red_flags",
        "started_at": T0,
        "duration_ms": 0.375,
    }
    data.update(overrides)
    return NewAssessment(**data)


def new_feedback(**overrides: Any) -> NewFeedback:
    data: dict[str, Any] = {
        "service_id": "spinecds-order-select",
        "card_uuid": "6f1c0a52-bd5e-4b7a-9f3e-2a1f0f6e8d11",
        "outcome": "overridden",
        "override_reason": {"reason": {"code": "patient-preference"}, "userComment": "asked"},
        "accepted_suggestions": [],
        "outcome_at": datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
        "client": "https://ehr.example.org",
        "raw": {"card": "6f1c0a52", "outcome": "overridden", "extra": [1, 2]},
    }
    data.update(overrides)
    return NewFeedback(**data)


@pytest.fixture
def store(database_url: str) -> Iterator[AuditStore]:
    audit = AuditStore.from_url(database_url)
    audit.upgrade()
    yield audit
    audit.close()


@pytest.fixture
def second_store(database_url: str) -> Iterator[Callable[[], AuditStore]]:
    """Further stores on the same database (as another worker or replica would open)."""
    opened: list[AuditStore] = []

    def open_one() -> AuditStore:
        opened.append(AuditStore.from_url(database_url))
        return opened[-1]

    yield open_one
    for audit in opened:
        audit.close()


def stored_count(database_url: str) -> int:
    """Count rows through a fresh store, so nothing cached in the writer can hide a row."""
    audit = AuditStore.from_url(database_url)
    try:
        return audit.count_assessments()
    finally:
        audit.close()


# --- round trips ----------------------------------------------------------------------


def test_every_field_round_trips(store: AuditStore) -> None:
    local = timezone(timedelta(hours=2))
    new = new_assessment(started_at=datetime(2025, 3, 1, 10, 30, 0, 123456, tzinfo=local))
    assert all(getattr(new, name) is not None for name in NewAssessment.model_fields)

    record_id = store.record_assessment(new)
    record = store.get_assessment(record_id)

    assert record is not None
    assert record.id == record_id
    assert len(record_id) == 32 and int(record_id, 16) >= 0
    assert record.model_dump(exclude={"id"}) == new.model_dump()
    assert record.started_at == T0.replace(microsecond=123456)
    assert record.started_at.utcoffset() == timedelta(0)


def test_a_rejected_request_round_trips_with_its_error(store: AuditStore) -> None:
    new = new_assessment(
        interface="rest",
        client=None,
        service=None,
        output=None,
        status="rejected",
        error="findings.fevr: unknown finding",
        case_id=None,
        urgency=None,
        pathway=None,
    )
    record = store.get_assessment(store.record_assessment(new))
    assert record is not None
    assert record.model_dump(exclude={"id"}) == new.model_dump()


def test_an_unknown_id_is_none(store: AuditStore) -> None:
    store.record_assessment(new_assessment())
    assert store.get_assessment("0" * 32) is None
    assert store.get_assessment("not-an-id") is None


def test_list_is_newest_first_and_filters(store: AuditStore) -> None:
    first = store.record_assessment(new_assessment(interface="rest", started_at=T0))
    second = store.record_assessment(
        new_assessment(interface="cds-hooks", started_at=T0 + timedelta(hours=1))
    )
    third = store.record_assessment(
        new_assessment(interface="rest", started_at=T0 + timedelta(hours=2))
    )

    def ids(**filters: Any) -> list[str]:
        return [row.id for row in store.list_assessments(**filters)]

    assert ids() == [third, second, first]
    assert ids(interface="rest") == [third, first]
    assert ids(since=T0 + timedelta(hours=1)) == [third, second]
    assert ids(limit=1, offset=1) == [second]
    assert ids(interface="web") == []
    assert store.count_assessments() == 3
    assert store.count_assessments(interface="rest", since=T0 + timedelta(minutes=1)) == 1


def test_list_leaves_out_the_large_documents(store: AuditStore) -> None:
    store.record_assessment(new_assessment())
    (summary,) = store.list_assessments()
    assert isinstance(summary, AssessmentSummary)
    assert not {"input", "output"} & set(AssessmentSummary.model_fields)
    assert summary.case_id == "seed-001" and summary.urgency == "routine"


def test_list_refuses_a_negative_limit_or_a_naive_since(store: AuditStore) -> None:
    with pytest.raises(StoreError, match="cannot be negative"):
        store.list_assessments(limit=-1)
    with pytest.raises(StoreError, match="time zone"):
        store.list_assessments(since=datetime(2025, 3, 1))
    with pytest.raises(StoreError, match="time zone"):
        store.list_feedback(since=datetime(2025, 3, 1))


# --- export ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_parses_back_to_the_records(store: AuditStore, fmt: str) -> None:
    awkward = 'line one\nline two, with "quotes" and a comma'
    ids = [
        store.record_assessment(new_assessment(started_at=T0 + timedelta(minutes=2))),
        store.record_assessment(
            new_assessment(status="rejected", output=None, error=awkward, client=None)
        ),
        store.record_assessment(new_assessment(interface="web", started_at=T0 - timedelta(1))),
    ]
    out = io.StringIO()

    written = store.export(out, fmt)

    oldest_first = [store.get_assessment(i) for i in (ids[2], ids[1], ids[0])]
    assert written == 3
    assert list(parse_export(io.StringIO(out.getvalue()), fmt)) == oldest_first


def test_export_filters_like_list(store: AuditStore) -> None:
    store.record_assessment(new_assessment(interface="web"))
    kept = store.record_assessment(new_assessment(interface="rest", started_at=T0 + timedelta(1)))
    out = io.StringIO()
    assert store.export(out, "jsonl", interface="rest", since=T0) == 1
    assert [r.id for r in parse_export(io.StringIO(out.getvalue()), "jsonl")] == [kept]


def test_export_streams_rows_in_batches(store: AuditStore) -> None:
    store.record_assessment(new_assessment())
    seen: list[dict[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM assessments" in statement:
            seen.append(dict(args[-2].execution_options))

    event.listen(store.engine, "before_cursor_execute", remember)
    try:
        store.export(io.StringIO(), "csv")
    finally:
        event.remove(store.engine, "before_cursor_execute", remember)
    assert seen and seen[0].get("yield_per") == EXPORT_BATCH
    assert seen[0].get("stream_results") is True  # a server-side cursor on PostgreSQL


def test_export_refuses_an_unknown_format(store: AuditStore) -> None:
    with pytest.raises(StoreError) as caught:
        store.export(io.StringIO(), "xml")
    assert caught.value.exit_code == 2
    assert "jsonl, csv" in str(caught.value)


# --- all or nothing -------------------------------------------------------------------


def test_a_failure_after_the_insert_leaves_no_record(store: AuditStore, database_url: str) -> None:
    rows_inside: list[int] = []

    def fail_after_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ASSESSMENTS"):
            # The row is written inside the open transaction; then the request fails.
            count = conn.exec_driver_sql("SELECT count(*) FROM assessments").scalar_one()
            rows_inside.append(count)
            raise OperationalError(statement, None, RuntimeError("simulated: server went away"))

    event.listen(store.engine, "after_cursor_execute", fail_after_insert)
    try:
        with pytest.raises(StoreError) as caught:
            store.record_assessment(new_assessment())
    finally:
        event.remove(store.engine, "after_cursor_execute", fail_after_insert)

    assert rows_inside == [1]
    assert stored_count(database_url) == 0
    message = str(caught.value)
    assert "nothing was stored" in message
    assert "simulated: server went away" in message


@pytest.mark.parametrize(
    ("output", "cause"),
    [
        ({"differential": {"pseudarthrosis", "infection"}}, "not JSON serializable"),
        ({"score": float("nan")}, "not JSON compliant"),
    ],
)
def test_an_unserialisable_output_leaves_no_record(
    store: AuditStore, database_url: str, output: dict[str, Any], cause: str
) -> None:
    with pytest.raises(StoreError) as caught:
        store.record_assessment(new_assessment(output=output))
    assert stored_count(database_url) == 0
    (problem,) = caught.value.problems
    assert problem.field == "output"
    assert cause in problem.problem


def test_a_missing_schema_is_named_with_its_fix(database_url: str) -> None:
    audit = AuditStore.from_url(database_url)
    try:
        with pytest.raises(StoreError) as caught:
            audit.record_assessment(new_assessment())
    finally:
        audit.close()
    assert "spinecds audit upgrade" in str(caught.value)


# --- CDS Hooks feedback ---------------------------------------------------------------


def test_feedback_round_trips_and_lists_newest_first(store: AuditStore) -> None:
    first = new_feedback(
        outcome="accepted", override_reason=None, accepted_suggestions=[{"id": "s1"}]
    )
    second = new_feedback(card_uuid="another-card", accepted_suggestions=["s2"])
    first_id = store.record_feedback(first)
    second_id = store.record_feedback(second)

    records = store.list_feedback()

    assert [r.id for r in records] == [second_id, first_id]
    assert records[1].model_dump(exclude={"id", "received_at"}) == first.model_dump()
    assert records[0].model_dump(exclude={"id", "received_at"}) == second.model_dump()
    assert records[0].outcome_at == datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
    assert records[0].received_at.utcoffset() == timedelta(0)
    assert [r.id for r in store.list_feedback(card_uuid="another-card")] == [second_id]
    assert store.list_feedback(service_id="spinecds-patient-view") == []


# --- JWT replay cache -----------------------------------------------------------------


def test_a_replayed_jti_is_refused_by_every_store(
    store: AuditStore, second_store: Callable[[], AuditStore]
) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    assert store.claim_jti("https://ehr.example.org", "jti-1", expires) is True
    assert store.claim_jti("https://ehr.example.org", "jti-1", expires) is False
    assert second_store().claim_jti("https://ehr.example.org", "jti-1", expires) is False
    # The same id from another issuer is another token.
    assert store.claim_jti("https://other-ehr.example.org", "jti-1", expires) is True
    # A very long jti still fits (the key is a digest).
    assert store.claim_jti("https://ehr.example.org", "j" * 5000, expires) is True


def test_expired_jtis_are_purged(store: AuditStore, second_store: Callable[[], AuditStore]) -> None:
    now = datetime.now(UTC)
    assert store.claim_jti("iss", "old", now - timedelta(hours=1)) is True
    assert store.claim_jti("iss", "fresh", now + timedelta(hours=1)) is True

    assert store.purge_expired_jti() == 1

    assert store.claim_jti("iss", "old", now + timedelta(hours=1)) is True
    assert store.claim_jti("iss", "fresh", now + timedelta(hours=1)) is False


def test_claiming_purges_now_and_then(
    store: AuditStore, second_store: Callable[[], AuditStore]
) -> None:
    now = datetime.now(UTC)
    store.claim_jti("iss", "warm-up", now + timedelta(hours=1))  # this store's purge is done
    assert store.claim_jti("iss", "old", now - timedelta(hours=1)) is True
    # A store that has not purged yet does so on its first claim.
    second_store().claim_jti("iss", "other", now + timedelta(hours=1))
    assert store.claim_jti("iss", "old", now + timedelta(hours=1)) is True


# --- several writers at once ----------------------------------------------------------


def test_concurrent_writers_lose_nothing_and_claim_each_jti_once(
    store: AuditStore, second_store: Callable[[], AuditStore], database_url: str
) -> None:
    stores = [store, second_store()]
    expires = datetime.now(UTC) + timedelta(minutes=5)
    claimed: list[bool] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(audit: AuditStore) -> None:
        try:
            for n in range(8):
                audit.record_assessment(new_assessment(duration_ms=float(n)))
                won = audit.claim_jti("iss", f"jti-{n}", expires)
                with lock:
                    claimed.append(won)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(stores[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert stored_count(database_url) == 32
    assert claimed.count(True) == 8


# --- schema and migrations ------------------------------------------------------------


def test_a_fresh_database_gets_its_schema_from_alembic(database_url: str) -> None:
    audit = AuditStore.from_url(database_url)
    try:
        assert audit.current_revision() is None
        assert not TABLES & set(inspect(audit.engine).get_table_names())

        audit.upgrade()

        assert audit.current_revision() == head_revision() == "0001"
        assert TABLES | {"alembic_version"} <= set(inspect(audit.engine).get_table_names())
    finally:
        audit.close()


def test_upgrading_twice_changes_nothing(store: AuditStore) -> None:
    record_id = store.record_assessment(new_assessment())
    store.upgrade()
    assert store.current_revision() == head_revision()
    assert store.get_assessment(record_id) is not None
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_workers_upgrading_at_once_migrate_once(database_url: str) -> None:
    """Separate processes (uvicorn workers, replicas) upgrading a fresh database together."""
    script = "import sys; from spinecds.store import AuditStore; AuditStore.from_url(sys.argv[1]).upgrade()"
    workers = [
        subprocess.Popen([sys.executable, "-c", script, database_url], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    errors = [worker.communicate(timeout=120)[1].decode() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], errors
    audit = AuditStore.from_url(database_url)
    try:
        assert audit.current_revision() == head_revision()
    finally:
        audit.close()


def test_threads_upgrading_at_once_take_turns(
    database_url: str, second_store: Callable[[], AuditStore]
) -> None:
    stores = [second_store(), second_store()]
    failures: list[BaseException] = []

    def upgrade(audit: AuditStore) -> None:
        try:
            audit.upgrade()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=upgrade, args=(audit,)) for audit in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stores[0].current_revision() == head_revision()


def test_models_and_migrations_agree(store: AuditStore) -> None:
    command.check(store.alembic_config())  # raises AutogenerateDiffsDetected on any difference
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_the_comparison_would_see_a_model_change(store: AuditStore) -> None:
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["assessments"].append_column(Column("priority", Integer))
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, changed)
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "priority")]


def test_json_columns_are_jsonb_on_postgresql(store: AuditStore) -> None:
    columns = {c["name"]: c["type"] for c in inspect(store.engine).get_columns("assessments")}
    expected = JSONB if store.engine.dialect.name == "postgresql" else JSON
    assert isinstance(columns["input"], expected)
    assert isinstance(columns["output"], expected)


def test_the_database_refuses_an_unknown_status(store: AuditStore) -> None:
    insert = text(
        "INSERT INTO assessments (id, interface, input, status, knowledge_version, "
        "started_at, duration_ms) VALUES ('x', 'rest', '{}', 'maybe', 'v', :t, 1)"
    )
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(insert, {"t": T0})


# --- opening and checking -------------------------------------------------------------


def test_sqlite_is_set_up_for_several_writers(tmp_path: Any) -> None:
    path = tmp_path / "nested" / "folder" / "audit.db"
    audit = AuditStore.from_url(f"sqlite:///{path}")
    try:
        with audit.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        assert path.parent.is_dir()
        assert mode == "wal"
        assert isinstance(busy, int) and busy > 0
        assert synchronous == 1  # NORMAL: atomic commits, without an fsync for each
    finally:
        audit.close()


def test_an_in_memory_database_is_one_database_for_all_threads() -> None:
    audit = AuditStore.from_url("sqlite://")
    try:
        audit.upgrade()
        record_id = audit.record_assessment(new_assessment())
        found: list[object] = []
        thread = threading.Thread(target=lambda: found.append(audit.get_assessment(record_id)))
        thread.start()
        thread.join()
        assert found[0] is not None
    finally:
        audit.close()


def test_check_passes_on_a_live_database(store: AuditStore) -> None:
    store.check()


def test_check_names_an_unreachable_database() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    audit = AuditStore.from_url("postgresql://nobody:secret@127.0.0.1:1/audit")
    try:
        with pytest.raises(StoreError) as caught:
            audit.check()
    finally:
        audit.close()
    message = str(caught.value)
    assert "unreachable" in message and "127.0.0.1:1" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("url", "words"),
    [("mysql://u@h/db", "SQLite and PostgreSQL only"), ("not a url", "not valid")],
)
def test_an_unsupported_url_is_refused(url: str, words: str) -> None:
    with pytest.raises(StoreError, match=words) as caught:
        AuditStore.from_url(url)
    assert caught.value.exit_code == 2


# --- records --------------------------------------------------------------------------


def test_records_refuse_bad_values() -> None:
    with pytest.raises(ValidationError, match="interface"):
        new_assessment(interface="fax")
    with pytest.raises(ValidationError, match="timezone"):
        new_assessment(started_at=datetime(2025, 3, 1, 8, 30))
    with pytest.raises(ValidationError, match="duration_ms"):
        new_assessment(duration_ms=-1.0)
    with pytest.raises(ValidationError, match="outcome"):
        new_feedback(outcome="ignored")


def test_records_are_frozen_and_cut_long_outside_names() -> None:
    record = new_assessment(client="c" * 500, case_id="x" * 300)
    assert len(record.client or "") == 200 and len(record.case_id or "") == 200
    with pytest.raises(ValidationError):
        record.status = "rejected"  # type: ignore[misc]


def test_public_api() -> None:
    for name in spinecds.store.__all__:
        assert getattr(spinecds.store, name) is not None
