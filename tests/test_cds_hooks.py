"""CDS Hooks 2.0: discovery, patient-view, order-select/sign cards with suggestions and
the Argonaut appropriateness update, feedback, 412, CORS, and what real clients send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service_support import (
    PATIENT,
    bundle,
    hook_request,
    imaging_order,
    order_select,
    service_client,
)

ORDER_SELECT = "/cds-services/spinecds-imaging-order-select"
ORDER_SIGN = "/cds-services/spinecds-imaging-order-sign"
PATIENT_VIEW = "/cds-services/spinecds-neck-pain-after-surgery"
MRI = imaging_order("mri-1", "72141", "MRI cervical spine without contrast")
XR = imaging_order("xr-1", "72040", "XR cervical spine 2-3 views")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with service_client(tmp_path_factory.mktemp("cds")) as c:
        yield c


def test_discovery_lists_each_service_with_its_prefetch(client: TestClient) -> None:
    services = {s["id"]: s for s in client.get("/cds-services").json()["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select", "order-sign"}
    for service in services.values():
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert "{{context.patientId}}" in service["prefetch"]["conditions"]
        assert service["title"] and service["description"]


def test_patient_view_gives_one_card_with_urgency_next_step_and_report_link(
    client: TestClient,
) -> None:
    answer = client.post(PATIENT_VIEW, json=hook_request("patient-view", {}))
    assert answer.status_code == 200
    (card,) = answer.json()["cards"]
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Routine")
    assert "Radiography cervical spine" in card["summary"]
    assert len(card["summary"]) < 140
    assert card["source"]["label"].startswith("ACR Appropriateness Criteria")
    (link,) = card["links"]
    assert link["type"] == "absolute"
    record_id = link["url"].rsplit("/", 1)[1]
    stored = client.get(f"/api/assessments/{record_id}").json()
    assert stored["interface"] == "cds-hooks"
    assert stored["service"] == "spinecds-neck-pain-after-surgery"


def test_mri_first_after_acdf_gets_a_warning_and_a_swap_to_radiographs(client: TestClient) -> None:
    body = client.post(ORDER_SELECT, json=order_select(MRI)).json()
    (card,) = body["cards"]
    assert card["indicator"] == "warning"
    assert "MRI cervical spine without IV contrast" in card["summary"]
    assert "Usually Appropriate" in card["summary"]
    assert card["selectionBehavior"] == "at-most-one"
    assert card["overrideReasons"]
    first = card["suggestions"][0]
    assert first["isRecommended"] is True
    delete, create = first["actions"]
    assert delete == {
        "type": "delete",
        "description": delete["description"],
        "resourceId": ["ServiceRequest/mri-1"],
    }
    assert create["type"] == "create"
    new_order = create["resource"]
    assert new_order["resourceType"] == "ServiceRequest"
    assert new_order["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert new_order["code"]["text"] == "Radiography cervical spine"
    assert {"system": "http://www.ama-assn.org/go/cpt", "code": "72040"}.items() <= (
        new_order["code"]["coding"][0].items()
    )


def test_the_order_gets_its_appropriateness_recorded_as_the_argonaut_guide_asks(
    client: TestClient,
) -> None:
    body = client.post(ORDER_SELECT, json=order_select(MRI)).json()
    (action,) = body["systemActions"]
    assert action["type"] == "update"
    resource = action["resource"]
    assert resource["id"] == "mri-1"
    assert resource["code"] == MRI["code"]  # no change of meaning
    extensions = {e["url"]: e for e in resource["extension"]}
    rating = extensions["http://fhir.org/argonaut/Extension/pama-rating"]
    assert rating["valueCodeableConcept"]["coding"] == [
        {"system": "http://fhir.org/argonaut/CodeSystem/pama-rating", "code": "appropriate"}
    ]
    consult = extensions["http://fhir.org/argonaut/Extension/pama-rating-consult-id"]["valueUri"]
    record_id = uuid.UUID(consult.removeprefix("urn:uuid:")).hex
    assert client.get(f"/api/assessments/{record_id}").status_code == 200


def test_radiographs_first_are_appropriate_and_get_no_suggestion(client: TestClient) -> None:
    (card,) = client.post(ORDER_SELECT, json=order_select(XR)).json()["cards"]
    assert card["indicator"] == "info"
    assert "suggestions" not in card


def test_an_order_outside_the_variant_table_is_no_criteria_apply(client: TestClient) -> None:
    # Thoracic radiographs have no row in the cervical variant this patient falls in.
    order = imaging_order("xr-t", "72070", "XR thoracic spine 2 views")
    body = client.post(ORDER_SELECT, json=order_select(order)).json()
    (card,) = body["cards"]
    assert "not rated" in card["summary"]
    (action,) = body["systemActions"]
    (rating,) = [e for e in action["resource"]["extension"] if "valueCodeableConcept" in e]
    assert rating["valueCodeableConcept"]["coding"][0]["code"] == "no-criteria-apply"


def test_order_select_reviews_only_the_selected_orders(client: TestClient) -> None:
    body = client.post(ORDER_SELECT, json=order_select(MRI, XR, selected=["ServiceRequest/xr-1"]))
    cards = body.json()["cards"]
    assert len(cards) == 1 and "Radiography" in cards[0]["summary"]


def test_order_sign_reviews_every_draft_order(client: TestClient) -> None:
    request = hook_request("order-sign", {"draftOrders": bundle(MRI, XR)})
    body = client.post(ORDER_SIGN, json=request).json()
    assert len(body["cards"]) == 2
    assert len(body["systemActions"]) == 2


@pytest.mark.parametrize(
    "order",
    [
        {"resourceType": "MedicationRequest", "id": "m1", "status": "draft", "intent": "order"},
        {**MRI, "code": {"coding": []}},
        {**MRI, "code": {"coding": [{}]}},
        {k: v for k, v in MRI.items() if k != "code"},
        {**MRI, "code": {"text": "physiotherapy referral"}},
    ],
    ids=["medication", "empty-coding", "empty-coding-entry", "no-code", "not-imaging"],
)
def test_orders_we_cannot_rate_get_no_card_and_no_error(
    client: TestClient, order: dict[str, Any]
) -> None:
    answer = client.post(ORDER_SELECT, json=order_select(order))
    assert answer.status_code == 200
    assert answer.json() == {"cards": [], "systemActions": []}


def test_extra_fields_from_real_clients_are_accepted(client: TestClient) -> None:
    request = order_select(MRI)
    request["extension"] = {"com.example.sandbox": {"x": 1}}
    request["context"]["encounterId"] = "enc-9"
    request["fhirServer"] = "http://127.0.0.1:9/fhir"  # prefetch is complete: never called
    assert client.post(ORDER_SELECT, json=request).status_code == 200


def test_missing_required_prefetch_without_a_fhir_server_is_412(client: TestClient) -> None:
    request = order_select(MRI)
    del request["prefetch"]["conditions"]
    answer = client.post(ORDER_SELECT, json=request)
    assert answer.status_code == 412
    assert "conditions" in answer.json()["message"]


def test_null_prefetch_values_count_as_missing(client: TestClient) -> None:
    request = order_select(MRI)
    request["prefetch"]["procedures"] = None
    assert client.post(ORDER_SELECT, json=request).status_code == 412


def test_a_hook_sent_to_the_wrong_service_is_400(client: TestClient) -> None:
    answer = client.post(ORDER_SELECT, json=hook_request("patient-view", {}))
    assert answer.status_code == 400


def test_unknown_service_is_404(client: TestClient) -> None:
    assert (
        client.post("/cds-services/nope", json=hook_request("patient-view", {})).status_code == 404
    )


@pytest.mark.parametrize(
    "broken",
    [{}, {"hook": "order-select"}, {"hook": "order-select", "hookInstance": "x", "context": []}],
)
def test_malformed_hook_requests_are_422(client: TestClient, broken: dict[str, Any]) -> None:
    answer = client.post(ORDER_SELECT, json=broken)
    assert answer.status_code == 422
    assert answer.json()["detail"]


def test_feedback_is_stored_with_the_override_reason(client: TestClient) -> None:
    card = client.post(ORDER_SELECT, json=order_select(MRI)).json()["cards"][0]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": card["overrideReasons"][1],
                    "userComment": "outside films show intact hardware",
                },
                "outcomeTimestamp": "2026-11-21T10:00:00Z",
            },
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-21T10:01:00Z",
            },
        ]
    }
    answer = client.post(f"{ORDER_SELECT}/feedback", json=feedback)
    assert answer.status_code == 200
    assert answer.json() == {"stored": 2}
    store = client.app.state.runner.store  # type: ignore[attr-defined]
    stored = [f for f in store.list_feedback() if f.card_uuid == card["uuid"]]
    assert {f.outcome for f in stored} == {"accepted", "overridden"}
    overridden = next(f for f in stored if f.outcome == "overridden")
    assert overridden.override_reason["userComment"] == "outside films show intact hardware"


@pytest.mark.parametrize(
    "feedback",
    [
        {},
        {"feedback": []},
        {
            "feedback": [
                {"card": "x", "outcome": "maybe", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
            ]
        },
    ],
)
def test_bad_feedback_is_422(client: TestClient, feedback: dict[str, Any]) -> None:
    assert client.post(f"{ORDER_SELECT}/feedback", json=feedback).status_code == 422


@pytest.mark.parametrize("path", ["/cds-services", ORDER_SELECT, f"{ORDER_SELECT}/feedback"])
def test_cors_preflight_allows_browser_ehrs(client: TestClient, path: str) -> None:
    answer = client.options(
        path,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] in {"*", "https://sandbox.cds-hooks.org"}
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_cors_origins_are_configurable(tmp_path: Path) -> None:
    with service_client(tmp_path, cors_origins=["https://ehr.example.org"]) as c:
        headers = {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
        assert c.options(ORDER_SELECT, headers=headers).status_code == 400
        headers["Origin"] = "https://ehr.example.org"
        assert c.options(ORDER_SELECT, headers=headers).status_code == 200


def _fhir_log(fhir_server: str) -> list[dict[str, Any]]:
    import httpx

    log: list[dict[str, Any]] = httpx.get(f"{fhir_server}/__log").json()
    return log


def test_missing_prefetch_is_fetched_from_the_fhir_server_with_the_token(
    client: TestClient, fhir_server: str
) -> None:
    """Nothing prefetched: the service reads the patient from the EHR's FHIR server."""
    order = {**MRI, "subject": {"reference": "Patient/p-acdf-001"}}
    request = order_select(order)
    request["context"]["patientId"] = "p-acdf-001"
    del request["prefetch"]
    request["fhirServer"] = f"{fhir_server}/tag/fetch-all"
    request["fhirAuthorization"] = {
        "access_token": "secret-token-1",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    answer = client.post(ORDER_SELECT, json=request)
    assert answer.status_code == 200
    (card,) = answer.json()["cards"]
    assert card["indicator"] == "warning"  # MRI before radiographs after ACDF
    ours = [e for e in _fhir_log(fhir_server) if e["path"].startswith("/tag/fetch-all/")]
    assert {e["authorization"] for e in ours} == {"Bearer secret-token-1"}
    assert any(e["path"].startswith("/tag/fetch-all/Condition") for e in ours)


def test_a_fhir_server_without_authorization_is_called_without_a_token(
    client: TestClient, fhir_server: str
) -> None:
    request = hook_request("patient-view", {"patientId": "p-acdf-001"})
    del request["prefetch"]
    request["fhirServer"] = f"{fhir_server}/tag/no-token"
    answer = client.post(PATIENT_VIEW, json=request)
    assert answer.status_code == 200
    assert len(answer.json()["cards"]) == 1
    ours = [e for e in _fhir_log(fhir_server) if e["path"].startswith("/tag/no-token/")]
    assert ours and all(not e["authorization"] for e in ours)


@pytest.mark.parametrize("prefix", ["fail/500", "fail/404", "slow/10"])
def test_required_data_that_cannot_be_fetched_is_412(
    client: TestClient, fhir_server: str, prefix: str
) -> None:
    request = hook_request("patient-view", {"patientId": "p-acdf-001"})
    del request["prefetch"]
    request["fhirServer"] = f"{fhir_server}/{prefix}"
    answer = client.post(PATIENT_VIEW, json=request)
    assert answer.status_code == 412
    assert "could not be fetched" in answer.json()["message"]


def test_an_r5_shaped_order_gets_an_explaining_card_and_no_rating(client: TestClient) -> None:
    r5 = {k: v for k, v in MRI.items() if k != "code"}
    r5["code"] = {
        "concept": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "72141"}]}
    }
    answer = client.post(ORDER_SELECT, json=order_select(r5))
    assert answer.status_code == 200
    body = answer.json()
    (card,) = body["cards"]
    assert card["indicator"] == "info" and "not rated" in card["summary"]
    assert body["systemActions"] == []


def test_optional_data_that_cannot_be_fetched_does_not_stop_the_card(
    client: TestClient, fhir_server: str
) -> None:
    request = hook_request("patient-view", {"patientId": "p-acdf-001"})
    for optional in ("observations", "reports", "devices", "allergies"):
        del request["prefetch"][optional]
    request["fhirServer"] = f"{fhir_server}/fail/500"
    answer = client.post(PATIENT_VIEW, json=request)
    assert answer.status_code == 200
    assert len(answer.json()["cards"]) == 1
