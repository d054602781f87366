"""Shared fixtures: the knowledge base loaded once, and a helper to build cases."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Hermetic: the knowledge base's parse cache goes to a fresh folder, never the user's cache.
# Set at import, before any test module loads the knowledge base.
os.environ["SPINECDS_CACHE_DIR"] = tempfile.mkdtemp(prefix="spinecds-test-cache-")
# Nothing a test does may land in the developer's audit log under var/.
os.environ["SPINECDS_DATABASE_URL"] = (
    "sqlite:///" + tempfile.mkdtemp(prefix="spinecds-test-db-") + "/audit.db"
)

from spinecds import Assessment, Case, KnowledgeBase, assess, default_kb, parse_case

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return default_kb()


@pytest.fixture(scope="session")
def make_case(kb: KnowledgeBase) -> Callable[..., Case]:
    """Build a valid case from keyword overrides of a minimal post-ACDF case."""

    def build(**overrides: Any) -> Case:
        data: dict[str, Any] = {
            "age": 55,
            "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2}],
            "complaint": ["neck_pain"],
            "findings": {},
        }
        data.update(overrides)
        return parse_case(data, kb.vocabulary, kb.procedures)

    return build


@pytest.fixture(scope="session")
def run_case(kb: KnowledgeBase, make_case: Callable[..., Case]) -> Callable[..., Assessment]:
    """Assess a case built from keyword overrides."""

    def run(**overrides: Any) -> Assessment:
        return assess(make_case(**overrides), kb)

    return run


# --- fixtures added by module owners below (one delimited block each) ---


# --- begin: audit log (spinecds.store) ---
@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An empty database per test: a SQLite file, or a fresh schema in PostgreSQL.

    PostgreSQL comes from SPINECDS_TEST_POSTGRES_URL (e.g.
    postgresql+psycopg://spinecds:spinecds@127.0.0.1:5432/spinecds_test); each test
    gets its own schema through ``search_path``, dropped afterwards, so test runs can share
    one database.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    base = os.environ.get("SPINECDS_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("SPINECDS_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    import uuid

    from sqlalchemy import text

    from spinecds.store.engine import make_engine, parse_url

    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base)
    try:
        with admin.begin() as connection:  # needs CREATE on the database (e.g. its owner)
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = parse_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


# --- end: audit log (spinecds.store) ---


# --- begin: FHIR test server (spinecds.fhir) ---
@pytest.fixture(scope="session")
def fhir_server() -> Any:
    """Base URL of tests/fhir_server.py, a real FHIR-like HTTP server process on loopback
    serving the bundles in tests/data/fhir (see its docstring for /__log and the /slow,
    /fail, /pages and /tag prefixes)."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "fhir_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    process.stdout.close()
    if not line.startswith("READY "):
        process.kill()
        process.wait(timeout=10)
        pytest.fail(f"the FHIR test server did not start: {line!r}")
    try:
        yield line.removeprefix("READY ")
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- end: FHIR test server (spinecds.fhir) ---
