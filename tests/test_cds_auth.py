"""JWT checks through the service: a trusted EHR's token opens a CDS service once; forged,
expired, replayed and wrong-audience tokens get 401 and no card. The replay cache is the
shared database, so a second app on the same database refuses the same token too."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from service_support import imaging_order, order_select, service_client

ISS = "https://ehr.example.org"
BASE = "https://cds.example.org"
SERVICE = "/cds-services/spinecds-imaging-order-select"
EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    maker = ECAlgorithm if alg.startswith("ES") else RSAAlgorithm
    jwk: dict[str, Any] = json.loads(maker.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture(scope="module")
def issuers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("issuers")
    keys = {"keys": [_jwk(EC_KEY, "ec-1", "ES384"), _jwk(RSA_KEY, "rsa-1", "RS384")]}
    (folder / "ehr.json").write_text(json.dumps(keys))
    (folder / "issuers.yaml").write_text(f"issuers:\n  - iss: {ISS}\n    jwks_file: ehr.json\n")
    return folder / "issuers.yaml"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth-db")


@pytest.fixture(scope="module")
def client(issuers: Path, db: Path) -> Iterator[TestClient]:
    with service_client(db, auth="on", issuers_file=issuers, public_url=BASE) as c:
        yield c


def token(key: Any = EC_KEY, alg: str = "ES384", kid: str = "ec-1", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISS,
        "aud": BASE + SERVICE,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def call(client: TestClient, bearer: str | None) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    order = imaging_order("mri-1", "72141", "MRI cervical spine")
    return client.post(SERVICE, json=order_select(order), headers=headers)


@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(EC_KEY, "ES384", "ec-1"), (RSA_KEY, "RS384", "rsa-1")]
)
def test_a_trusted_token_opens_the_service(
    client: TestClient, key: Any, alg: str, kid: str
) -> None:
    answer = call(client, token(key, alg, kid, sub="client-7", tenant="north"))
    assert answer.status_code == 200
    assert answer.json()["cards"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(OTHER_KEY), id="forged"),
        pytest.param(
            lambda: token(exp=int(time.time()) - 600, iat=int(time.time()) - 900), id="expired"
        ),
        pytest.param(lambda: token(aud=BASE + "/cds-services/other"), id="wrong-audience"),
        pytest.param(lambda: token(iss="https://evil.example.com"), id="untrusted-issuer"),
        pytest.param(lambda: None, id="no-token"),
    ],
)
def test_bad_tokens_get_401_and_no_card(client: TestClient, bad: Any) -> None:
    answer = call(client, bad())
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "cards" not in answer.json()
    assert answer.json() == {"message": "Not authorised."}  # the reason stays in our log


def test_a_replayed_token_is_refused_even_by_another_replica(
    client: TestClient, issuers: Path, db: Path
) -> None:
    once = token()
    assert call(client, once).status_code == 200
    assert call(client, once).status_code == 401
    with service_client(db, auth="on", issuers_file=issuers, public_url=BASE) as replica:
        assert call(replica, once).status_code == 401


def test_feedback_needs_a_token_too(client: TestClient) -> None:
    body = {
        "feedback": [
            {"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-11-21T10:00:00Z"}
        ]
    }
    assert client.post(f"{SERVICE}/feedback", json=body).status_code == 401
    signed = token(aud=BASE + SERVICE + "/feedback")
    answer = client.post(
        f"{SERVICE}/feedback", json=body, headers={"Authorization": f"Bearer {signed}"}
    )
    assert answer.status_code == 200


def test_discovery_stays_open(client: TestClient) -> None:
    assert client.get("/cds-services").status_code == 200


def test_auth_off_is_refused_off_loopback(issuers: Path) -> None:
    from pydantic import ValidationError

    from spinecds.config import Settings

    with pytest.raises(ValidationError, match="only allowed on loopback"):
        Settings(host="0.0.0.0", auth="off")  # noqa: S104 - the point of the test
    assert Settings(host="0.0.0.0", issuers_file=issuers).auth_enabled  # noqa: S104
