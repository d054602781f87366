"""The REST API: assess, read back from the audit log, vocabulary, knowledge, health,
and bad input answered with 422 naming the field and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from service_support import service_client

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with service_client(tmp_path_factory.mktemp("api")) as c:
        yield c


@pytest.fixture(scope="module")
def seed_case() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (REPO / "examples" / "post-acdf-radiculopathy.yaml").read_text()
    )
    return data


def test_assess_returns_the_assessment_and_stores_it(
    client: TestClient, seed_case: dict[str, Any]
) -> None:
    answer = client.post("/api/assess", json=seed_case)
    assert answer.status_code == 200
    body = answer.json()
    assert body["audience"] == "clinician"
    assessment = body["assessment"]
    assert assessment["next_imaging"][0] == "Radiography cervical spine"
    assert assessment["urgency"] == "routine"
    stored = client.get(f"/api/assessments/{body['id']}").json()
    assert stored["interface"] == "rest"
    assert stored["input"] == seed_case
    assert stored["output"] == assessment
    assert stored["knowledge_version"] == assessment["knowledge_version"]
    assert body["report_url"] == f"/report/{body['id']}"


def test_patient_audience_gets_plain_words(client: TestClient, seed_case: dict[str, Any]) -> None:
    body = client.post("/api/assess?audience=patient", json=seed_case).json()
    assert body["audience"] == "patient"
    assert "assessment" not in body
    assert "x-ray" in body["handout"].lower()
    assert body["handout_pdf_url"].endswith("/handout.pdf")


def test_misspelt_finding_names_the_field_and_the_fix(client: TestClient) -> None:
    case = {"surgeries": [], "complaint": ["neck_pain"], "findings": {"fevr": True}}
    answer = client.post("/api/assess", json=case)
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "findings", "fevr"]
    assert "fever" in problem["suggestions"]
    assert problem["fix"]


def test_nested_field_paths_keep_list_indexes(client: TestClient) -> None:
    case = {"surgeries": [{"procedure": "acdf", "years_ago": "two"}], "complaint": ["neck_pain"]}
    detail = client.post("/api/assess", json=case).json()["detail"]
    assert ["body", "surgeries", 0, "years_ago"] in [p["loc"] for p in detail]


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"age=3", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
def test_bodies_that_are_not_a_case_get_422(client: TestClient, content: bytes, kind: str) -> None:
    answer = client.post("/api/assess", content=content, headers={"Content-Type": kind})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["fix"]


def test_a_bad_audience_is_a_422_not_a_500(client: TestClient, seed_case: dict[str, Any]) -> None:
    answer = client.post("/api/assess?audience=robot", json=seed_case)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "audience"]


@pytest.mark.parametrize("record_id", ["0" * 32, "not-a-uuid", "x'; DROP TABLE assessments; --"])
def test_unknown_assessment_is_404(client: TestClient, record_id: str) -> None:
    answer = client.get(f"/api/assessments/{record_id}")
    assert answer.status_code == 404
    assert "No assessment" in answer.json()["message"]


def test_rejected_input_is_not_stored(client: TestClient, tmp_path: Path) -> None:
    with service_client(tmp_path) as fresh:
        fresh.post("/api/assess", json={"complaint": []})
        runner = fresh.app.state.runner  # type: ignore[attr-defined]
        assert runner.store.list_assessments() == []


def test_vocabulary_lists_terms_and_filters_by_kind(client: TestClient) -> None:
    everything = client.get("/api/vocabulary").json()
    assert "finding" in everything["kinds"]
    findings = client.get("/api/vocabulary?kind=finding").json()["terms"]
    assert {t["kind"] for t in findings} == {"finding"}
    assert any(t["id"] == "fever" for t in findings)
    assert client.get("/api/vocabulary?kind=nonsense").status_code == 404


def test_knowledge_shows_version_sources_and_acr_revisions(client: TestClient) -> None:
    body = client.get("/api/knowledge").json()
    assert body["knowledge_version"].startswith("0.1.0+")
    assert len(body["references"]) == 97
    cervical = next(t for t in body["acr"] if t["key"] == "cervical_pain")
    assert cervical["revision_year"] == 2024
    assert any(t["superseded"] for t in body["acr"])


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body == {
        "status": "ok",
        "knowledge_version": body["knowledge_version"],
        "database": "ok",
    }


def test_healthz_reports_an_unreachable_database(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.app.state.runner.store  # type: ignore[attr-defined]

    def down() -> None:
        raise OSError("database gone")

    monkeypatch.setattr(store, "check", down)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unreachable"


def test_openapi_documents_the_case_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/api/assess"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Case"}
    case = schema["components"]["schemas"]["Case"]
    assert "complaint" in case["required"]


def test_a_database_failure_is_503_and_leaves_no_record(
    client: TestClient, seed_case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    store = client.app.state.runner.store  # type: ignore[attr-defined]
    before = store.count_assessments()

    def fail(*_: Any) -> None:
        raise OperationalError("COMMIT", {}, OSError("disk full"))

    event.listen(store.engine, "commit", fail)
    try:
        answer = client.post("/api/assess", json=seed_case)
    finally:
        event.remove(store.engine, "commit", fail)
    assert answer.status_code == 503
    assert "nothing was stored" in answer.json()["message"]
    assert store.count_assessments() == before
