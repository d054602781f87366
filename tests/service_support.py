"""Builders for service tests: an app on a temporary database, and FHIR R4 resources
using only codes from ../shared/codes (ACDF CPT 22551, cervicalgia M54.2, cervical
radiculopathy M54.12, cervical spine MRI CPT 72141, radiographs CPT 72040)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from spinecds.config import Settings
from spinecds.service.app import create_app

CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PATIENT = "p-seed-001"


@contextmanager
def service_client(tmp: Path, **settings: Any) -> Iterator[TestClient]:
    config = Settings(database_url=f"sqlite:///{tmp}/audit.db", **settings)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def patient(birth_year: int = 1968) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PATIENT,
        "gender": "male",
        "birthDate": f"{birth_year}-03-01",
    }


def condition(code: str, display: str, cid: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{PATIENT}"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "code": {"coding": [{"system": ICD10CM, "code": code, "display": display}]},
    }


def acdf(years_ago: int = 2) -> dict[str, Any]:
    when = date.today() - timedelta(days=365 * years_ago)
    return {
        "resourceType": "Procedure",
        "id": "proc-acdf",
        "status": "completed",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": CPT, "code": "22551", "display": "ACDF"}]},
        "performedDateTime": when.isoformat(),
    }


def imaging_order(oid: str, code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": oid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": CPT, "code": code}], "text": text},
    }


def seed_prefetch() -> dict[str, Any]:
    """The seed-001 man: C5-C6 ACDF two years ago, neck pain and cervical radiculopathy."""
    return {
        "patient": patient(),
        "conditions": bundle(
            condition("M54.2", "Cervicalgia", "c1"),
            condition("M54.12", "Radiculopathy, cervical region", "c2"),
        ),
        "procedures": bundle(acdf()),
        "observations": bundle(),
        "reports": bundle(),
        "devices": bundle(),
        "allergies": bundle(),
    }


def hook_request(hook: str, context: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/1", "patientId": PATIENT, **context},
        "prefetch": seed_prefetch(),
    }
    body.update(extra)
    return body


def order_select(*orders: dict[str, Any], selected: list[str] | None = None) -> dict[str, Any]:
    ids = selected if selected is not None else [f"ServiceRequest/{o['id']}" for o in orders]
    return hook_request("order-select", {"selections": ids, "draftOrders": bundle(*orders)})
