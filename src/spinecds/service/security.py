"""CDS Hooks 2.0 client authentication: the JWT a CDS Client sends as a Bearer token.

The specification ("Trusting CDS Clients") has every request carry
``Authorization: Bearer <JWT>``, signed with the client's private key; the service checks:

- ``alg``: asymmetric only. ``none`` and every symmetric (HMAC) algorithm SHALL NOT be
  used; ES384 and RS384 are RECOMMENDED. We accept ES256/384/512, RS256/384/512 and
  PS256/384/512, and the key must be of the family and curve the algorithm names.
- ``typ`` must be ``JWT`` and ``kid`` is REQUIRED: it picks the key in the issuer's JWK Set.
- ``iss`` must be on our allow-list, and so must ``jku`` ("CDS Services SHOULD maintain an
  allowlist of the iss and jku fields"): a ``jku`` is honoured only when it is exactly the
  JWKS URL configured for that issuer, and anything else is refused before any fetch, so a
  token can never make us download keys from a place it chose. Keys embedded in a token
  (``jwk``, ``x5c``) and ``x5u`` are ignored: keys come from our configuration only.
- ``aud`` MUST be "the URL of the CDS Service endpoint being invoked": the discovery example
  is ``https://cds.example.org/cds-services`` and a service's is
  ``https://cds.example.org/cds-services/some-service``. The base URL alone is therefore
  *not* accepted: a token minted for one endpoint must not open another. Only a trailing
  slash is ignored. ``aud`` may be a string or a list of strings.
- ``exp``, ``iat`` and ``jti`` are REQUIRED. ``exp`` may be at most ``max_lifetime_s`` away
  (the CDS Hooks best-practice guide expects tokens to live no more than an hour; the
  sandbox uses five minutes), ``iat`` not in the future; both with ``leeway_s`` for clock
  skew. ``jti`` is single-use per issuer: a :class:`ReplayCache` remembers it until expiry.
- ``sub`` and ``tenant`` are accepted and returned, not required (unless the issuer has a
  ``tenants`` allow-list).

:class:`AuthError` reasons are specific for our logs and never contain key material or the
token. The best-practice guide advises not telling a caller *why* it was refused, so the
HTTP layer may prefer to answer with :attr:`AuthError.www_authenticate` only.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from heapq import heappop, heappush
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import httpx
import jwt
from jwt.exceptions import InvalidSignatureError, PyJWTError
from jwt.utils import base64url_decode

from spinecds.errors import FieldProblem, SpinecdsError
from spinecds.service.jwks import (
    IssuerConfig,
    IssuerConfigError,
    KeySource,
    KeysUnavailableError,
    PublicKey,
    RemoteKeySource,
    StaticKeySource,
    load_issuers,
)

__all__ = [
    "ALGORITHMS",
    "AuthError",
    "IssuerConfig",
    "IssuerConfigError",
    "JwtVerifier",
    "MemoryReplayCache",
    "ReplayCache",
    "VerifiedClient",
    "load_issuers",
]

# Accepted algorithms: the JWK key type and (for ECDSA) curve each one requires.
ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
}
MAX_TOKEN_CHARS = 16 * 1024  # a CDS Hooks JWT is well under 2 kB
MAX_ID_CHARS = 255  # kid and jti: ids, not documents; bounded so logs and caches stay small


@dataclass
class AuthError(SpinecdsError):
    """The request is not from a trusted CDS Client; the HTTP layer answers 401.

    ``error`` is the RFC 6750 code: empty when no credentials were sent at all,
    ``invalid_request`` for a malformed header, ``invalid_token`` otherwise.
    """

    error: str = "invalid_token"
    exit_code: int = 2

    @property
    def reason(self) -> str:
        return self.message

    @property
    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` value; it carries the error code, not the reason."""
        challenge = 'Bearer realm="cds-services"'
        return f'{challenge}, error="{self.error}"' if self.error else challenge


@dataclass(frozen=True)
class VerifiedClient:
    """Who called: safe to log and store (the token itself never is)."""

    iss: str
    sub: str | None
    tenant: str | None
    jti: str
    kid: str


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers each (iss, jti) until ``expires_at``; the database-backed one has the same
    signature, so several replicas share what they have seen."""

    def claim(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """True the first time (iss, jti) is claimed before it expires, else False."""
        ...


class MemoryReplayCache:
    """Thread-safe in-process replay cache; entries are dropped once expired."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []  # heap, soonest first

    def claim(self, iss: str, jti: str, expires_at: datetime) -> bool:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        key, until = (iss, jti), expires_at.timestamp()
        with self._lock:
            now = self._clock()
            while self._expiry and self._expiry[0][0] <= now:
                _, old = heappop(self._expiry)
                self._until.pop(old, None)
            if key in self._until:
                return False
            self._until[key] = until
            heappush(self._expiry, (until, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)


class JwtVerifier:
    """Checks CDS Hooks JWTs against a fixed set of trusted issuers.

    ``replay`` is a :class:`ReplayCache` or just its ``claim`` function (for instance
    ``AuditStore.claim_jti``). JWK Set files are read here, so a broken one stops start-up
    (IssuerConfigError).
    ``verify`` may block for up to ``http_timeout_s`` while it fetches a JWK Set: call it
    from a worker thread, not on the event loop.
    """

    def __init__(
        self,
        issuers: Iterable[IssuerConfig],
        replay: ReplayCache | Callable[[str, str, datetime], bool],
        *,
        leeway_s: float = 30,
        http_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        max_lifetime_s: float = 3600,
        jwks_ttl_s: float = 300,
        jwks_min_refetch_s: float = 30,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._issuers = {issuer.iss: issuer for issuer in issuers}
        if not self._issuers:
            raise IssuerConfigError(
                "no trusted issuers", [FieldProblem("issuers", "empty", "list at least one")]
            )
        if not isinstance(replay, ReplayCache) and not callable(replay):
            raise TypeError("replay: give a ReplayCache or a claim(iss, jti, expires_at) function")
        self._claim = replay.claim if isinstance(replay, ReplayCache) else replay
        self._leeway_s = leeway_s
        self._clock = clock
        self._max_lifetime_s = max_lifetime_s
        self._owns_client = http_client is None
        # Redirects are not followed: the configured URL is the allow-listed one.
        self._client = http_client or httpx.Client(
            follow_redirects=False, headers={"Accept": "application/json"}
        )
        self._sources: dict[str, KeySource] = {}
        for issuer in self._issuers.values():
            if issuer.jwks_file is not None:
                self._sources[issuer.iss] = StaticKeySource(issuer.jwks_file, issuer.iss)
            else:
                assert issuer.jwks_url is not None  # noqa: S101 (IssuerConfig guarantees one)
                self._sources[issuer.iss] = RemoteKeySource(
                    issuer.jwks_url,
                    self._client,
                    timeout_s=http_timeout_s,
                    clock=clock,
                    ttl_s=jwks_ttl_s,
                    min_refetch_s=jwks_min_refetch_s,
                )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> JwtVerifier:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def verify(self, authorization: str | None, *, audience: str | Sequence[str]) -> VerifiedClient:
        """The verified caller, or AuthError. ``audience``: the endpoint URL(s) called."""
        token = bearer_token(authorization)
        header, unverified = _unverified_parts(token)
        alg, kid = _check_header(header)
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError("issuer not trusted" if iss is not None else "token has no iss")
        jku = header.get("jku")
        if jku is not None and (issuer.jwks_url is None or jku != issuer.jwks_url):
            raise AuthError("jku is not the JWKS URL configured for this issuer")
        claims = _verified_claims(token, self._public_key(issuer, kid), alg)
        now = self._clock()
        _check_audience(claims, audience)
        exp = self._check_times(claims, now)
        jti, sub, tenant = _check_identity(claims, issuer)
        expires_at = datetime.fromtimestamp(exp + self._leeway_s, UTC)
        if not self._claim(issuer.iss, jti, expires_at):
            raise AuthError("token replayed (jti already used)")
        return VerifiedClient(iss=issuer.iss, sub=sub, tenant=tenant, jti=jti, kid=kid)

    def _public_key(self, issuer: IssuerConfig, kid: str) -> PublicKey:
        try:
            key = self._sources[issuer.iss].key(kid)
        except KeysUnavailableError as error:
            raise AuthError(str(error)) from None
        if key is None:
            raise AuthError("unknown key id (kid) for this issuer")
        return key

    def _check_times(self, claims: dict[str, Any], now: float) -> float:
        """Checks exp, iat and nbf; returns exp."""
        exp, iat, nbf = (_number(claims, name) for name in ("exp", "iat", "nbf"))
        if exp is None:
            raise AuthError("token has no exp (or it is not a number)")
        if iat is None:
            raise AuthError("token has no iat (or it is not a number)")
        if now > exp + self._leeway_s:
            raise AuthError("token expired")
        if exp - now > self._max_lifetime_s + self._leeway_s:
            raise AuthError("token lifetime too long (exp too far in the future)")
        if iat > now + self._leeway_s:
            raise AuthError("token issued in the future (iat)")
        if "nbf" in claims and (nbf is None or nbf > now + self._leeway_s):
            raise AuthError("token not yet valid (nbf)")
        return exp


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if authorization is None or not authorization.strip():
        raise AuthError("no Authorization header", error="")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise AuthError("Authorization scheme is not Bearer", error="invalid_request")
    if not token or " " in token:
        raise AuthError("Bearer token missing or malformed", error="invalid_request")
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError("token too large", error="invalid_request")
    return token


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload, read only to pick the issuer and key; nothing is trusted yet."""
    segments = token.split(".")
    if len(segments) != 3:
        raise AuthError("token is not a signed JWT (expected three segments)")
    header, payload = (_json_segment(part) for part in segments[:2])
    if header is None or payload is None:
        raise AuthError("token malformed (header or payload is not base64url JSON)")
    return header, payload


def _json_segment(segment: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64url_decode(segment))
    # binascii.Error and JSONDecodeError are ValueErrors; deeply nested JSON recurses too far.
    except (ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _check_header(header: dict[str, Any]) -> tuple[str, str]:
    """The (alg, kid) of an acceptable header."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise AuthError("algorithm not allowed (asymmetric ES/RS/PS algorithms only)")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise AuthError("token header typ must be JWT")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_ID_CHARS:
        raise AuthError("token header has no usable kid")
    return alg, kid


def _verified_claims(token: str, key: PublicKey, alg: str) -> dict[str, Any]:
    """The payload once the signature checks out with ``key`` under ``alg``."""
    kty, crv = ALGORITHMS[alg]
    jwk = key.jwk
    if jwk.get("kty") != kty or (crv and jwk.get("crv") != crv) or jwk.get("alg", alg) != alg:
        raise AuthError("token algorithm does not fit the key named by kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.for_algorithm(alg),
            algorithms=[alg],
            # Claims are checked below with our clock and our messages.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
                "enforce_minimum_key_length": True,  # refuse e.g. RSA keys under 2048 bits
            },
        )
    except InvalidSignatureError:
        raise AuthError("signature invalid") from None
    except PyJWTError as error:
        raise AuthError(f"token rejected by the JWS check ({type(error).__name__})") from None
    return claims


def _check_audience(claims: dict[str, Any], audience: str | Sequence[str]) -> None:
    expected = {url.rstrip("/") for url in ([audience] if isinstance(audience, str) else audience)}
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise AuthError("token has no aud (or it is not a string or list of strings)")
    if not expected & {value.rstrip("/") for value in values}:
        raise AuthError("token audience is not this endpoint")


def _check_identity(
    claims: dict[str, Any], issuer: IssuerConfig
) -> tuple[str, str | None, str | None]:
    """(jti, sub, tenant) after checking their types and the issuer's tenant allow-list."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise AuthError("token has no jti")
    if len(jti) > MAX_ID_CHARS:
        raise AuthError("token jti too long")
    sub, tenant = claims.get("sub"), claims.get("tenant")
    if sub is not None and not isinstance(sub, str):
        raise AuthError("token sub is not a string")
    if tenant is not None and not isinstance(tenant, str):
        raise AuthError("token tenant is not a string")
    if issuer.tenants is not None and tenant not in issuer.tenants:
        raise AuthError("tenant not trusted for this issuer")
    return jti, sub, tenant


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
