"""The prefetch client against a real FHIR-like server process (tests/fhir_server.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from spinecds import KnowledgeBase
from spinecds.fhir import PREFETCH, PrefetchError, case_from_resources, fetch_missing_prefetch

TOKEN = "t0k3n"  # noqa: S105 - a test token for the test server
CONTEXT = {"patientId": "p-acdf-001", "userId": "Practitioner/1"}


def fetch(
    base: str, missing: list[str], token: str | None = TOKEN, timeout_s: float = 5.0, **ctx: Any
) -> dict[str, Any]:
    return asyncio.run(fetch_missing_prefetch(base, token, {**CONTEXT, **ctx}, missing, timeout_s))


def tagged(fhir_server: str) -> tuple[str, str]:
    tag = uuid.uuid4().hex
    return f"{fhir_server}/tag/{tag}", tag


def log_of(fhir_server: str, tag: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{fhir_server}/__log").json()
    return [e for e in entries if f"/tag/{tag}/" in e["path"]]


def test_templates_cover_what_the_mapping_reads() -> None:
    assert PREFETCH["patient"] == "Patient/{{context.patientId}}"
    assert PREFETCH["conditions"] == "Condition?patient={{context.patientId}}"
    for key in ("procedures", "observations", "reports", "devices", "allergies"):
        assert "{{context.patientId}}" in PREFETCH[key]


def test_missing_keys_are_fetched_with_the_bearer_token(fhir_server: str) -> None:
    base, tag = tagged(fhir_server)
    got = fetch(base, ["patient", "conditions", "procedures"])
    assert got["patient"]["resourceType"] == "Patient"
    assert got["patient"]["id"] == "p-acdf-001"
    assert got["conditions"]["type"] == "searchset"
    assert {e["resource"]["id"] for e in got["conditions"]["entry"]} == {
        "neck-pain",
        "radiculopathy",
        "no-cancer",
    }
    assert [e["resource"]["id"] for e in got["procedures"]["entry"]] == ["acdf-2024"]
    requests = log_of(fhir_server, tag)
    assert len(requests) == 3
    assert {r["authorization"] for r in requests} == {"Bearer t0k3n"}


def test_no_token_sends_no_authorization(fhir_server: str) -> None:
    base, tag = tagged(fhir_server)
    fetch(base, ["patient"], token=None)
    assert [r["authorization"] for r in log_of(fhir_server, tag)] == [None]


def test_fetched_prefetch_maps_like_the_fixture(fhir_server: str, kb: KnowledgeBase) -> None:
    got = fetch(fhir_server, list(PREFETCH))
    mapped = case_from_resources(got.values(), today=date(2026, 11, 21), kb=kb)
    assert mapped.case["surgeries"] == [
        {"procedure": "acdf", "levels": ["C5-C6"], "weeks_ago": 104.4}
    ]
    assert mapped.case["findings"]["recent_trauma"] is False


def test_search_pages_are_followed_and_merged(fhir_server: str) -> None:
    base, tag = tagged(fhir_server)
    got = fetch(f"{base}/pages/3", ["observations"])
    assert len(got["observations"]["entry"]) == 9  # 9 observations in 3 pages
    assert not [link for link in got["observations"]["link"] if link["relation"] == "next"]
    assert len(log_of(fhir_server, tag)) == 3


def test_slow_server_gives_prefetch_error_within_the_budget(fhir_server: str) -> None:
    with pytest.raises(PrefetchError) as err:
        fetch(f"{fhir_server}/slow/3", ["patient", "conditions"], timeout_s=0.5)
    assert err.value.key in ("patient", "conditions")
    assert "0.5 s" in err.value.reason or "in time" in err.value.reason


def test_the_budget_covers_all_keys_together(fhir_server: str) -> None:
    # Five keys at 0.5 s each take 2.5 s one after another: within 2 s only if fetched at once.
    keys = ["patient", "conditions", "procedures", "devices", "allergies"]
    got = fetch(f"{fhir_server}/slow/0.5", keys, timeout_s=2.0)
    assert set(got) == set(keys)


@pytest.mark.parametrize("status", [404, 500, 401])
def test_http_errors_give_prefetch_error(fhir_server: str, status: int) -> None:
    with pytest.raises(PrefetchError) as err:
        fetch(f"{fhir_server}/fail/{status}", ["conditions"])
    assert err.value.key == "conditions"
    assert f"HTTP {status}" in err.value.reason


def test_unknown_patient_is_a_404(fhir_server: str) -> None:
    with pytest.raises(PrefetchError, match="HTTP 404"):
        fetch(fhir_server, ["patient"], patientId="nobody")


def test_unreachable_server_gives_prefetch_error() -> None:
    with pytest.raises(PrefetchError, match="cannot be reached"):
        fetch("http://127.0.0.1:9", ["patient"], timeout_s=2.0)


def test_context_without_patient_gives_prefetch_error(fhir_server: str) -> None:
    with pytest.raises(PrefetchError, match="no patientId") as err:
        asyncio.run(fetch_missing_prefetch(fhir_server, None, {}, ["devices"], 1.0))
    assert err.value.key == "devices"


def test_unknown_key_gives_prefetch_error(fhir_server: str) -> None:
    with pytest.raises(PrefetchError, match="not a prefetch key"):
        fetch(fhir_server, ["medications"])


def test_nothing_missing_fetches_nothing(fhir_server: str) -> None:
    assert fetch("http://127.0.0.1:9", []) == {}


def test_patient_id_is_url_encoded(fhir_server: str) -> None:
    base, tag = tagged(fhir_server)
    with pytest.raises(PrefetchError):
        fetch(base, ["patient"], patientId="a/../b")
    assert log_of(fhir_server, tag)[0]["path"].endswith("/Patient/a%2F..%2Fb")
