"""CDS Hooks JWT verification (service/security.py, service/jwks.py).

Keys are generated at test time; JWK Sets served over HTTP come from a real server thread on
loopback, which counts the requests it gets, so "no fetch happened" is observed, not assumed.
The verifier's clock is a fake one: token times and cache expiry never depend on the wall clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.utils import base64url_encode
from jwt.warnings import InsecureKeyLengthWarning

import spinecds.service.security as security
from spinecds.service.security import (
    AuthError,
    IssuerConfig,
    IssuerConfigError,
    JwtVerifier,
    MemoryReplayCache,
    VerifiedClient,
    load_issuers,
)

ISS = "https://ehr.example.org"
BASE = "https://cds.example.org"
AUD = f"{BASE}/cds-services/spine-imaging"
NOW = 1_750_000_000.0

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Every accepted algorithm and the key (kid) that signs it; kid = the key's family and size.
ALG_KID = {
    "ES256": "ec256",
    "ES384": "ec384",
    "ES512": "ec521",
    "RS256": "rsa",
    "RS384": "rsa",
    "RS512": "rsa",
    "PS256": "rsa",
    "PS384": "rsa",
    "PS512": "rsa",
}


class Clock:
    """A settable clock standing in for time.time."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    """Private keys by kid, made fresh for this test run (never stored)."""
    return {
        "ec256": ec.generate_private_key(ec.SECP256R1()),
        "ec384": ec.generate_private_key(ec.SECP384R1()),
        "ec521": ec.generate_private_key(ec.SECP521R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "other-ec384": ec.generate_private_key(ec.SECP384R1()),
        "other-rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


def public_jwk(private: PrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **extra}


def jwk_set(keys: dict[str, PrivateKey], *kids: str) -> dict[str, Any]:
    return {"keys": [public_jwk(keys[kid], kid) for kid in kids]}


def claims(**changes: Any) -> dict[str, Any]:
    """A valid payload; a change to None removes that claim."""
    payload: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": str(uuid.uuid4()),
        "sub": "ehr-client",
        "tenant": "clinic-1",
    }
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not None}


def sign(private: PrivateKey, alg: str, kid: str, payload: dict[str, Any], **header: Any) -> str:
    return jwt.encode(payload, private, algorithm=alg, headers={"kid": kid, **header})


def hand_made(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand (PyJWT rightly refuses to make HS256 with a public key)."""
    signing_input = b".".join(
        base64url_encode(json.dumps(part).encode()) for part in (header, payload)
    )
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest() if secret else b""
    return (signing_input + b"." + base64url_encode(signature)).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuers_file(tmp_path: Path, keys: dict[str, PrivateKey]) -> Path:
    """An issuers YAML whose one issuer has a JWK Set file next to it (relative path)."""
    (tmp_path / "keys").mkdir()
    jwks = jwk_set(keys, "ec256", "ec384", "ec521", "rsa")
    (tmp_path / "keys" / "ehr.json").write_text(json.dumps(jwks))
    config = tmp_path / "issuers.yaml"
    config.write_text(f"issuers:\n  - iss: {ISS}\n    jwks_file: keys/ehr.json\n")
    return config


@pytest.fixture
def verifier(issuers_file: Path, clock: Clock) -> Iterator[JwtVerifier]:
    with JwtVerifier(load_issuers(issuers_file), MemoryReplayCache(clock), clock=clock) as v:
        yield v


def bearer(token: str) -> str:
    return f"Bearer {token}"


def rejected(verifier: JwtVerifier, token: str, reason: str, audience: str = AUD) -> AuthError:
    """Asserts the token is refused for ``reason`` and the message holds no token part."""
    with pytest.raises(AuthError) as caught:
        verifier.verify(bearer(token), audience=audience)
    message = str(caught.value)
    assert reason in message
    assert all(len(part) < 8 or part not in message for part in token.split("."))
    return caught.value


# --- accepted tokens --------------------------------------------------------------------------


@pytest.mark.parametrize("alg", sorted(ALG_KID))
def test_valid_token_passes(verifier: JwtVerifier, keys: dict[str, PrivateKey], alg: str) -> None:
    kid = ALG_KID[alg]
    payload = claims()
    client = verifier.verify(bearer(sign(keys[kid], alg, kid, payload)), audience=AUD)
    assert client == VerifiedClient(ISS, "ehr-client", "clinic-1", payload["jti"], kid)


@pytest.mark.parametrize(
    ("aud", "audience"),
    [
        ([AUD, "https://other.example.org/x"], AUD),  # a list holding the endpoint
        (AUD + "/", AUD),  # a trailing slash is not a different endpoint
        (AUD, [f"{BASE}/cds-services/other", AUD + "/"]),  # the service accepts several
    ],
)
def test_audience_forms_accepted(
    verifier: JwtVerifier, keys: dict[str, PrivateKey], aud: object, audience: Any
) -> None:
    token = sign(keys["ec384"], "ES384", "ec384", claims(aud=aud))
    assert verifier.verify(bearer(token), audience=audience).iss == ISS


def test_sub_and_tenant_are_optional(verifier: JwtVerifier, keys: dict[str, PrivateKey]) -> None:
    token = sign(keys["rsa"], "RS384", "rsa", claims(sub=None, tenant=None))
    client = verifier.verify(bearer(token), audience=AUD)
    assert (client.sub, client.tenant) == (None, None)


@pytest.mark.parametrize("skew", [-29, 29])
def test_clock_skew_within_leeway_is_accepted(
    verifier: JwtVerifier, keys: dict[str, PrivateKey], clock: Clock, skew: int
) -> None:
    # skew < 0: the token expired 29 s ago; skew > 0: it was issued 29 s "in the future".
    payload = claims(iat=int(NOW) + max(skew, 0), exp=int(NOW) + (skew if skew < 0 else 300))
    assert verifier.verify(bearer(sign(keys["ec384"], "ES384", "ec384", payload)), audience=AUD)


# The example from the CDS Hooks specification ("Trusting CDS Clients"): its public JWK Set
# and the complete token it shows, signed with ES384 and naming the JWK Set by jku.
SPEC_JWKS = {
    "keys": [
        {
            "kty": "EC",
            "use": "sig",
            "crv": "P-384",
            "kid": "example-kid",
            "x": "46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk",
            "y": "XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI",
            "alg": "ES384",
        }
    ]
}
SPEC_JWT = (
    "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVo"
    "ci5leGFtcGxlLmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsInN1YiI6"
    "ImNsaWVudF9pZCIsImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2Ui"
    "LCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVl"
    "YzZhMzNhYzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.CUFPkplnWd6Y"
    "GIvzoHolWCQBDsCL8QtTWKGg_QFpS169WrqDGzktRi-_we6-6rVzbjerU27ZKww_SW0-b9RTz-dPJNcqsueMio8r6EqX"
    "UXhbLm_ch3XFSbDlGHDl_tqo"
)


@pytest.mark.parametrize(("max_lifetime_s", "reason"), [(2e8, ""), (3600, "lifetime too long")])
def test_the_specification_example_token(max_lifetime_s: float, reason: str) -> None:
    # In-memory transport: this issuer's JWKS URL is not on loopback, and tests never leave it.
    requested: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(200, json=SPEC_JWKS)

    issuer = IssuerConfig(
        "https://fhir-ehr.example.com/", jwks_url="https://fhir-ehr.example.com/jwk_uri"
    )
    clock = Clock(1311280970)  # the token's iat; it lives 3.5 years, so only a huge limit fits
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        verifier = JwtVerifier(
            [issuer],
            MemoryReplayCache(clock),
            clock=clock,
            max_lifetime_s=max_lifetime_s,
            http_client=client,
        )
        audience = "https://cds.example.org/cds-services/some-service"
        if reason:
            rejected(verifier, SPEC_JWT, reason, audience=audience)
        else:
            client_id = verifier.verify(bearer(SPEC_JWT), audience=audience)
            assert (client_id.sub, client_id.kid) == ("client_id", "example-kid")
            assert client_id.tenant == "2ddd6c3a-8e9a-44c6-a305-52111ad302a2"
    assert requested == ["https://fhir-ehr.example.com/jwk_uri"]


# --- refused tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(NOW) - 31, "iat": int(NOW) - 331}, "token expired"),
        ({"iat": int(NOW) + 60, "exp": int(NOW) + 360}, "issued in the future"),
        ({"exp": int(NOW) + 7200}, "lifetime too long"),
        ({"nbf": int(NOW) + 60}, "not yet valid"),
        ({"exp": None}, "no exp"),
        ({"exp": "soon"}, "no exp"),
        ({"exp": True}, "no exp"),
        ({"iat": None}, "no iat"),
        ({"jti": None}, "no jti"),
        ({"jti": ""}, "no jti"),
        ({"jti": "x" * 256}, "jti too long"),
        ({"aud": "https://cds.other.org/cds-services/spine-imaging"}, "audience"),
        ({"aud": BASE}, "audience"),  # the base URL alone is not the endpoint called
        ({"aud": f"{BASE}/cds-services"}, "audience"),  # a discovery token cannot call a service
        ({"aud": None}, "no aud"),
        ({"aud": [AUD, 3]}, "no aud"),
        ({"iss": "https://evil.example.org"}, "issuer not trusted"),
        ({"iss": None}, "no iss"),
        ({"sub": 7}, "sub is not a string"),
        ({"tenant": ["a"]}, "tenant is not a string"),
    ],
)
def test_bad_claims_are_refused(
    verifier: JwtVerifier, keys: dict[str, PrivateKey], changes: dict[str, Any], reason: str
) -> None:
    rejected(verifier, sign(keys["ec384"], "ES384", "ec384", claims(**changes)), reason)


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_forged_signature_is_refused(
    verifier: JwtVerifier, keys: dict[str, PrivateKey], alg: str
) -> None:
    # Signed with a key of the right kind, claiming the trusted key's kid.
    kid = ALG_KID[alg]
    other = keys["other-ec384" if alg.startswith("ES") else "other-rsa"]
    rejected(verifier, sign(other, alg, kid, claims()), "signature invalid")


def test_tampered_payload_is_refused(verifier: JwtVerifier, keys: dict[str, PrivateKey]) -> None:
    header, _, signature = sign(keys["ec384"], "ES384", "ec384", claims()).split(".")
    payload = base64url_encode(json.dumps(claims(sub="someone-else")).encode()).decode()
    rejected(verifier, f"{header}.{payload}.{signature}", "signature invalid")


def test_hs256_with_the_public_key_as_secret_is_refused(
    verifier: JwtVerifier, keys: dict[str, PrivateKey]
) -> None:
    pem = (
        keys["rsa"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = hand_made({"alg": "HS256", "typ": "JWT", "kid": "rsa"}, claims(), pem)
    rejected(verifier, token, "algorithm not allowed")


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "HS512", "EdDSA", "", None, 5])
def test_unsigned_and_symmetric_algorithms_are_refused(verifier: JwtVerifier, alg: object) -> None:
    header = {"typ": "JWT", "kid": "ec384", "alg": alg}
    rejected(verifier, hand_made(header, claims(), b"secret" if alg else None), "algorithm")


@pytest.mark.parametrize(
    ("alg", "kid", "extra", "reason"),
    [
        ("ES256", "ec384", {}, "does not fit the key"),  # curve P-384 key, P-256 algorithm
        ("RS384", "ec384", {}, "does not fit the key"),  # an EC key for an RSA algorithm
        ("ES384", "nope", {}, "unknown key id"),
        ("ES384", "", {}, "no usable kid"),
        ("ES384", "ec384", {"typ": "at+jwt"}, "typ must be JWT"),
    ],
)
def test_header_and_key_mismatches_are_refused(
    verifier: JwtVerifier,
    keys: dict[str, PrivateKey],
    alg: str,
    kid: str,
    extra: dict[str, Any],
    reason: str,
) -> None:
    signer = keys["ec256"] if alg == "ES256" else keys["ec384"] if alg[0] == "E" else keys["rsa"]
    rejected(verifier, sign(signer, alg, kid, claims(), **extra), reason)


def test_missing_kid_and_typ_are_refused(
    verifier: JwtVerifier, keys: dict[str, PrivateKey]
) -> None:
    no_kid = jwt.encode(claims(), keys["ec384"], algorithm="ES384")
    rejected(verifier, no_kid, "no usable kid")
    no_typ = sign(keys["ec384"], "ES384", "ec384", claims(), typ=None)
    rejected(verifier, no_typ, "typ must be JWT")


def test_jwk_alg_must_match_the_token(tmp_path: Path, keys: dict[str, PrivateKey]) -> None:
    jwks = {"keys": [public_jwk(keys["rsa"], "rsa", alg="RS256")]}
    verifier = file_verifier(tmp_path, jwks, Clock())
    rejected(verifier, sign(keys["rsa"], "RS384", "rsa", claims()), "does not fit the key")
    assert verifier.verify(bearer(sign(keys["rsa"], "RS256", "rsa", claims())), audience=AUD)


def test_short_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)
    verifier = file_verifier(tmp_path, {"keys": [public_jwk(weak, "weak")]}, Clock())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # signing with it warns
        token = sign(weak, "RS384", "weak", claims())
    rejected(verifier, token, "InvalidKeyError")


def test_replayed_jti_is_refused(verifier: JwtVerifier, keys: dict[str, PrivateKey]) -> None:
    token = sign(keys["ec384"], "ES384", "ec384", claims())
    verifier.verify(bearer(token), audience=AUD)
    rejected(verifier, token, "replayed")
    # Same jti in a freshly signed token: still a replay.
    again = sign(keys["rsa"], "RS384", "rsa", claims(jti=json.loads(_payload(token))["jti"]))
    rejected(verifier, again, "replayed")


def test_invalid_tokens_do_not_burn_their_jti(
    verifier: JwtVerifier, keys: dict[str, PrivateKey]
) -> None:
    payload = claims()
    rejected(verifier, sign(keys["other-ec384"], "ES384", "ec384", payload), "signature")
    assert verifier.verify(bearer(sign(keys["ec384"], "ES384", "ec384", payload)), audience=AUD)


def _payload(token: str) -> bytes:
    from jwt.utils import base64url_decode

    return base64url_decode(token.split(".")[1])


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, ""),
        ("", ""),
        ("Bearer", "invalid_request"),
        ("Bearer ", "invalid_request"),
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("garbage", "invalid_request"),
        ("Bearer a b", "invalid_request"),
        ("Bearer " + "a" * 20_000, "invalid_request"),
        ("Bearer a.b", "invalid_token"),
        ("Bearer a.b.c", "invalid_token"),
        ("Bearer !!!.???.###", "invalid_token"),
        ("Bearer W10.W10.", "invalid_token"),  # base64url of "[]": JSON, but not objects
        ("Bearer ....", "invalid_token"),
        ("Bearer " + base64url_encode(b"[" * 7000).decode() + ".e30.x", "invalid_token"),
    ],
)
def test_malformed_authorization_headers_are_refused(
    verifier: JwtVerifier, value: str | None, error: str
) -> None:
    with pytest.raises(AuthError) as caught:
        verifier.verify(value, audience=AUD)
    assert caught.value.error == error
    assert caught.value.www_authenticate.startswith('Bearer realm="cds-services"')
    assert (f'error="{error}"' in caught.value.www_authenticate) == bool(error)


def test_bearer_scheme_is_case_insensitive(
    verifier: JwtVerifier, keys: dict[str, PrivateKey]
) -> None:
    token = sign(keys["ec384"], "ES384", "ec384", claims())
    assert verifier.verify(f"bearer  {token} ", audience=AUD).kid == "ec384"


# --- tenants, replay cache and issuers file ---------------------------------------------------


def file_verifier(
    tmp_path: Path, jwks: dict[str, Any], clock: Clock, tenants: frozenset[str] | None = None
) -> JwtVerifier:
    path = tmp_path / f"jwks-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(jwks))
    issuer = IssuerConfig(ISS, jwks_file=path, tenants=tenants)
    return JwtVerifier([issuer], MemoryReplayCache(clock), clock=clock)


@pytest.mark.parametrize(("tenant", "ok"), [("clinic-1", True), ("clinic-9", False), (None, False)])
def test_tenant_allow_list(
    tmp_path: Path, keys: dict[str, PrivateKey], tenant: str | None, ok: bool
) -> None:
    verifier = file_verifier(tmp_path, jwk_set(keys, "ec384"), Clock(), frozenset({"clinic-1"}))
    token = sign(keys["ec384"], "ES384", "ec384", claims(tenant=tenant))
    if ok:
        assert verifier.verify(bearer(token), audience=AUD).tenant == tenant
    else:
        rejected(verifier, token, "tenant not trusted")


def test_replay_cache_forgets_expired_entries() -> None:
    clock = Clock()
    cache = MemoryReplayCache(clock)
    until = datetime.fromtimestamp(NOW + 60, UTC)
    assert cache.claim(ISS, "j1", until)
    assert not cache.claim(ISS, "j1", until)
    assert cache.claim("https://other.example.org", "j1", until)  # jti is unique per issuer
    clock.now = NOW + 61
    assert cache.claim(ISS, "j2", datetime.fromtimestamp(NOW + 120, UTC))
    assert len(cache) == 1  # the expired j1 entries are gone
    assert cache.claim(ISS, "j1", datetime.fromtimestamp(NOW + 120, UTC))


def test_replay_cache_is_thread_safe() -> None:
    cache = MemoryReplayCache(Clock())
    until = datetime.fromtimestamp(NOW + 60, UTC)
    start = threading.Barrier(8)
    results: list[bool] = []

    def claim() -> None:
        start.wait()
        results.append(cache.claim(ISS, "same", until))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_replay_may_be_a_claim_function(issuers_file: Path, keys: dict[str, PrivateKey]) -> None:
    seen: list[tuple[str, str, datetime]] = []

    def claim_jti(iss: str, jti: str, expires_at: datetime) -> bool:
        seen.append((iss, jti, expires_at))
        return len(seen) == 1

    clock = Clock()
    verifier = JwtVerifier(load_issuers(issuers_file), claim_jti, clock=clock, leeway_s=30)
    payload = claims()
    token = sign(keys["ec384"], "ES384", "ec384", payload)
    verifier.verify(bearer(token), audience=AUD)
    rejected(verifier, token, "replayed")
    # Kept until the token can no longer be accepted: exp plus the leeway.
    assert seen[0] == (ISS, payload["jti"], datetime.fromtimestamp(payload["exp"] + 30, UTC))


def test_issuers_file_resolves_relative_paths(issuers_file: Path) -> None:
    (issuer,) = load_issuers(issuers_file)
    assert issuer == IssuerConfig(ISS, jwks_file=issuers_file.parent / "keys" / "ehr.json")


def test_issuers_file_with_urls_and_tenants(tmp_path: Path) -> None:
    path = tmp_path / "issuers.yaml"
    path.write_text(
        "issuers:\n"
        "  - iss: https://sandbox.cds-hooks.org\n"
        "    jwks_url: https://sandbox.cds-hooks.org/.well-known/jwks.json\n"
        "  - iss: http://localhost:9000\n"
        "    jwks_url: http://127.0.0.1:9000/jwks\n"
        "    tenants: [a, b]\n"
    )
    first, second = load_issuers(path)
    assert first.jwks_url == "https://sandbox.cds-hooks.org/.well-known/jwks.json"
    assert (second.jwks_file, second.tenants) == (None, frozenset({"a", "b"}))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("- iss: x\n", "issuers"),
        ("issuers: []\n", "issuers"),
        ("issuers: [{iss: x, jwks_url: 'https://a/j'}]\nextra: 1\n", "issuers"),
        ("issuers: [text]\n", "issuers[0]"),
        ("issuers: [{jwks_url: 'https://a/j'}]\n", "issuers[0].iss"),
        ("issuers: [{iss: x}]\n", "issuers[0]"),
        ("issuers: [{iss: x, jwks_url: 'https://a/j', jwks_file: k.json}]\n", "issuers[0]"),
        ("issuers: [{iss: x, jwks_url: 'http://ehr.example.org/j'}]\n", "issuers[0].jwks_url"),
        ("issuers: [{iss: x, jwks_url: 'ftp://a/j'}]\n", "issuers[0].jwks_url"),
        ("issuers: [{iss: x, jwks_url: 42}]\n", "issuers[0].jwks_url"),
        ("issuers: [{iss: x, jwks_file: missing.json}]\n", "issuers[0].jwks_file"),
        ("issuers: [{iss: x, jwks_url: 'https://a/j', jku: y}]\n", "issuers[0].jku"),
        ("issuers: [{iss: x, jwks_url: 'https://a/j', tenants: a}]\n", "issuers[0].tenants"),
        (
            "issuers: [{iss: x, jwks_url: 'https://a/j'}, {iss: x, jwks_url: 'https://b/j'}]\n",
            "issuers[1].iss",
        ),
        ("issuers: [unclosed\n", ""),
    ],
)
def test_bad_issuers_files_name_the_entry_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "issuers.yaml"
    path.write_text(text)
    with pytest.raises(IssuerConfigError) as caught:
        load_issuers(path)
    assert str(path) in caught.value.message
    assert field in [problem.field for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("jwks", "problem"),
    [
        ("not json", "Expecting value"),
        ({"keys": "no"}, "not a JWK Set"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "private or symmetric"),
        ({"keys": []}, "no signing key"),
    ],
)
def test_unusable_jwks_files_stop_start_up(tmp_path: Path, jwks: object, problem: str) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(jwks if isinstance(jwks, str) else json.dumps(jwks))
    with pytest.raises(IssuerConfigError) as caught:
        JwtVerifier([IssuerConfig(ISS, jwks_file=path)], MemoryReplayCache())
    assert problem in str(caught.value)


def test_private_keys_in_a_jwks_file_are_refused(
    tmp_path: Path, keys: dict[str, PrivateKey]
) -> None:
    key = keys["ec384"]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    private = ECAlgorithm.to_jwk(key, as_dict=True)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**private, "kid": "ec384"}]}))
    with pytest.raises(IssuerConfigError) as caught:
        JwtVerifier([IssuerConfig(ISS, jwks_file=path)], MemoryReplayCache())
    assert "private" in str(caught.value)
    assert private["d"] not in str(caught.value)


def test_public_api() -> None:
    for name in security.__all__:
        assert hasattr(security, name), name
    with pytest.raises(IssuerConfigError):
        JwtVerifier([], MemoryReplayCache())
    with pytest.raises(ValueError, match="exactly one"):
        IssuerConfig(ISS)
    with pytest.raises(TypeError, match="replay"):
        JwtVerifier([IssuerConfig(ISS, jwks_url="https://a/j")], object())  # type: ignore[arg-type]


# --- JWK Sets over HTTP: a real server on loopback --------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunk_delay_s: float = 0.0  # > 0: the body trickles out one byte at a time
    delay_s: float = 0.0  # before answering at all


class JwksServer:
    """A loopback HTTP server serving routes and counting requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                route = server.routes.get(self.path, Route(b"not found", 404))
                try:
                    time.sleep(route.delay_s)
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    for index in range(0, len(route.body), 1 if route.chunk_delay_s else 1 << 20):
                        self.wfile.write(
                            route.body[index : index + (1 if route.chunk_delay_s else 1 << 20)]
                        )
                        self.wfile.flush()
                        time.sleep(route.chunk_delay_s)
                except OSError:
                    pass  # the client gave up (timeout tests): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve_jwks(self, path: str, jwks: dict[str, Any]) -> str:
        self.routes[path] = Route(json.dumps(jwks).encode())
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    jwks_server = JwksServer()
    yield jwks_server
    jwks_server.close()


def url_verifier(url: str, clock: Clock, **options: Any) -> JwtVerifier:
    issuer = IssuerConfig(ISS, jwks_url=url)
    return JwtVerifier([issuer], MemoryReplayCache(clock), clock=clock, **options)


@pytest.fixture
def make_url_verifier(clock: Clock) -> Iterator[Callable[..., JwtVerifier]]:
    made: list[JwtVerifier] = []

    def make(url: str, **options: Any) -> JwtVerifier:
        made.append(url_verifier(url, clock, **options))
        return made[-1]

    yield make
    for verifier in made:
        verifier.close()


def test_unlisted_jku_is_refused_without_a_fetch(
    verifier: JwtVerifier, keys: dict[str, PrivateKey], server: JwksServer
) -> None:
    # The issuer's keys are a local file: any jku is unlisted.
    jku = server.serve_jwks("/attacker.json", jwk_set(keys, "ec384"))
    rejected(verifier, sign(keys["ec384"], "ES384", "ec384", claims(), jku=jku), "jku")
    assert sum(server.hits.values()) == 0


def test_jku_other_than_the_configured_url_is_refused_without_a_fetch(
    make_url_verifier: Callable[..., JwtVerifier],
    keys: dict[str, PrivateKey],
    server: JwksServer,
) -> None:
    listed = server.serve_jwks("/jwks.json", jwk_set(keys, "ec384"))
    other = server.serve_jwks("/other.json", jwk_set(keys, "other-ec384"))
    verifier = make_url_verifier(listed)
    token = sign(keys["other-ec384"], "ES384", "other-ec384", claims(), jku=other)
    rejected(verifier, token, "jku")
    assert sum(server.hits.values()) == 0


def test_listed_jku_is_fetched_once_and_cached(
    make_url_verifier: Callable[..., JwtVerifier],
    keys: dict[str, PrivateKey],
    server: JwksServer,
    clock: Clock,
) -> None:
    url = server.serve_jwks("/jwks.json", jwk_set(keys, "ec384", "rsa"))
    verifier = make_url_verifier(url, jwks_ttl_s=300)
    for alg, kid in [("ES384", "ec384"), ("RS384", "rsa"), ("ES384", "ec384")]:
        token = sign(keys[kid], alg, kid, claims(), jku=url)
        assert verifier.verify(bearer(token), audience=AUD).kid == kid
    assert server.hits["/jwks.json"] == 1
    clock.now += 301  # past the TTL: fetched again
    token = sign(keys["rsa"], "RS384", "rsa", claims(iat=int(clock.now), exp=int(clock.now) + 60))
    assert verifier.verify(bearer(token), audience=AUD)
    assert server.hits["/jwks.json"] == 2


def test_unknown_kid_refetches_once_and_is_rate_limited(
    make_url_verifier: Callable[..., JwtVerifier],
    keys: dict[str, PrivateKey],
    server: JwksServer,
    clock: Clock,
) -> None:
    url = server.serve_jwks("/jwks.json", jwk_set(keys, "ec384"))
    verifier = make_url_verifier(url, jwks_min_refetch_s=30)
    assert verifier.verify(bearer(sign(keys["ec384"], "ES384", "ec384", claims())), audience=AUD)
    # The client rotates to a new key: the unknown kid triggers one refetch.
    server.serve_jwks("/jwks.json", jwk_set(keys, "ec384", "rsa"))
    clock.now += 31
    fresh = {"iat": int(clock.now), "exp": int(clock.now) + 60}
    assert verifier.verify(bearer(sign(keys["rsa"], "RS384", "rsa", claims(**fresh))), audience=AUD)
    assert server.hits["/jwks.json"] == 2
    # Made-up kids right after: no further fetches within the rate limit.
    for kid in ("made-up-1", "made-up-2"):
        rejected(verifier, sign(keys["ec384"], "ES384", kid, claims(**fresh)), "unknown key id")
    assert server.hits["/jwks.json"] == 2


@pytest.mark.parametrize(
    "route",
    [
        Route(b"oops", status=500),
        Route(b"not json"),
        Route(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "ec384"}]}).encode()),
        Route(b"", status=302, headers={"Location": "/jwks.json"}),  # redirects are not followed
        Route(b'{"keys": []}', delay_s=1.0),  # no answer within the timeout
        Route(b'{"keys": [' + b" " * 200 + b"]}", chunk_delay_s=0.01),  # trickles past it
        Route(b" " * (300 * 1024)),  # larger than any real JWK Set
        Route(b"[" * 100_000),  # nested deeper than the JSON parser can go
    ],
    ids=["http-500", "not-json", "symmetric-key", "redirect", "silent", "trickle", "huge", "deep"],
)
def test_jwks_url_failures_are_auth_errors(
    make_url_verifier: Callable[..., JwtVerifier],
    keys: dict[str, PrivateKey],
    server: JwksServer,
    route: Route,
) -> None:
    server.serve_jwks("/jwks.json", jwk_set(keys, "ec384"))
    server.routes["/broken"] = route
    verifier = make_url_verifier(server.url("/broken"), http_timeout_s=0.3)
    rejected(verifier, sign(keys["ec384"], "ES384", "ec384", claims()), "keys are unavailable")
    assert server.hits["/jwks.json"] == 0


def test_jwks_url_down_is_an_auth_error(
    make_url_verifier: Callable[..., JwtVerifier], keys: dict[str, PrivateKey], clock: Clock
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = make_url_verifier(f"http://127.0.0.1:{port}/jwks.json", jwks_min_refetch_s=30)
    token = sign(keys["ec384"], "ES384", "ec384", claims())
    rejected(verifier, token, "keys are unavailable")
    rejected(verifier, token, "keys are unavailable")  # within the rate limit: no new attempt


def test_cached_keys_outlive_a_jwks_outage_for_a_while(
    make_url_verifier: Callable[..., JwtVerifier],
    keys: dict[str, PrivateKey],
    server: JwksServer,
    clock: Clock,
) -> None:
    url = server.serve_jwks("/jwks.json", jwk_set(keys, "ec384"))
    verifier = make_url_verifier(url, jwks_ttl_s=300)
    assert verifier.verify(bearer(sign(keys["ec384"], "ES384", "ec384", claims())), audience=AUD)
    server.routes["/jwks.json"] = Route(b"down", status=503)

    def token_now() -> str:
        times = {"iat": int(clock.now), "exp": int(clock.now) + 60}
        return sign(keys["ec384"], "ES384", "ec384", claims(**times))

    clock.now += 400  # stale, refresh fails: the cached key still serves
    assert verifier.verify(bearer(token_now()), audience=AUD)
    clock.now += 3600  # too stale to trust
    rejected(verifier, token_now(), "keys are unavailable")
    assert server.hits["/jwks.json"] == 3
