"""Trusted CDS Clients and their public keys: the issuers file and JWK Sets.

CDS Hooks 2.0 ("Trusting CDS Clients") asks a service to keep an allow-list of the ``iss``
and ``jku`` values of the clients it trusts; a client's JWK Set is shared out of band or
published at a URL. Here each trusted issuer names exactly one JWK Set: a local file
(read once at start-up) or an HTTPS URL (fetched on demand, cached, refetched at most once
per ``min_refetch_s`` so an unknown ``kid`` cannot make us hammer the client's server).

Only public keys are accepted: a JWK Set carrying private or symmetric key material is
refused, because it means a secret has been published by mistake.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import yaml
from jwt import PyJWK

from spinecds.config import is_loopback
from spinecds.errors import FieldProblem, SpinecdsError

__all__ = [
    "IssuerConfig",
    "IssuerConfigError",
    "KeySource",
    "KeysUnavailableError",
    "PublicKey",
    "RemoteKeySource",
    "StaticKeySource",
    "load_issuers",
    "parse_jwk_set",
]

log = logging.getLogger(__name__)

ISSUER_KEYS = frozenset({"iss", "jwks_file", "jwks_url", "tenants"})
# Members that only private (or symmetric) JWKs carry (RFC 7518 section 6).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_JWKS_BYTES = 256 * 1024  # a JWK Set is a few kB; more is a misconfiguration or an attack
# How long cached keys stay usable after their TTL while the JWKS URL cannot be reached:
# keys rotate rarely, so a short outage at the client's key server should not stop care.
STALE_GRACE_S = 3600.0


@dataclass
class IssuerConfigError(SpinecdsError):
    """The issuers file (or a JWK Set it names) cannot be used; start-up must stop."""

    exit_code: int = 2


class KeysUnavailableError(Exception):
    """An issuer's JWK Set could not be had; the message is safe to show a caller."""


@dataclass(frozen=True)
class IssuerConfig:
    """One trusted CDS Client: its exact ``iss`` and where its public keys are.

    ``tenants``, when given, is an allow-list of the ``tenant`` claim (CDS Hooks best
    practice); a token from this issuer must then carry one of them.
    """

    iss: str
    jwks_file: Path | None = None
    jwks_url: str | None = None
    tenants: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError(f"issuer {self.iss!r}: give exactly one of jwks_file or jwks_url")


def load_issuers(path: Path | str) -> list[IssuerConfig]:
    """Read the issuers YAML; relative ``jwks_file`` paths resolve against its folder.

    Raises :class:`IssuerConfigError` listing every problem as ``issuers[i].field``.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise IssuerConfigError(
            f"{path}: cannot read the issuers file",
            [FieldProblem("", str(error), "give a readable YAML file (SPINECDS_ISSUERS_FILE)")],
        ) from None
    entries = data.get("issuers") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries or set(data) != {"issuers"}:
        raise IssuerConfigError(
            f"{path}: not an issuers file",
            [
                FieldProblem(
                    "issuers",
                    "expected one top-level key 'issuers' with a list",
                    "write 'issuers:' followed by '- iss: ...' entries",
                )
            ],
        )
    problems: list[FieldProblem] = []
    issuers: list[IssuerConfig] = []
    for index, entry in enumerate(entries):
        issuer = _issuer_entry(entry, f"issuers[{index}]", path.parent, problems)
        if issuer is None:
            continue
        if any(known.iss == issuer.iss for known in issuers):
            problems.append(
                FieldProblem(
                    f"issuers[{index}].iss",
                    f"{issuer.iss!r} is listed twice",
                    "keep one entry per issuer",
                )
            )
        issuers.append(issuer)
    if problems:
        raise IssuerConfigError(f"{path}: the issuers file has problems", problems)
    return issuers


def _issuer_entry(
    entry: object, where: str, folder: Path, problems: list[FieldProblem]
) -> IssuerConfig | None:
    """One ``issuers[i]`` mapping, or None after recording what is wrong with it."""
    if not isinstance(entry, dict):
        problems.append(
            FieldProblem(
                where,
                "expected a mapping",
                "write 'iss:' and 'jwks_file:' or 'jwks_url:' under the dash",
            )
        )
        return None
    before = len(problems)
    for key in sorted(set(entry) - ISSUER_KEYS, key=str):
        problems.append(
            FieldProblem(
                f"{where}.{key}", "unknown key", f"use only {', '.join(sorted(ISSUER_KEYS))}"
            )
        )
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss.strip():
        problems.append(
            FieldProblem(
                f"{where}.iss",
                "missing or not a string",
                "give the exact 'iss' value the client puts in its tokens",
            )
        )
    file_value, url_value = entry.get("jwks_file"), entry.get("jwks_url")
    jwks_file: Path | None = None
    if (file_value is None) == (url_value is None):
        problems.append(
            FieldProblem(
                where,
                "needs exactly one of jwks_file or jwks_url",
                "name a local JWK Set file or the client's JWKS URL",
            )
        )
    elif file_value is not None:
        jwks_file = _jwks_file(file_value, f"{where}.jwks_file", folder, problems)
    elif not isinstance(url_value, str) or (reason := _url_problem(url_value)):
        problems.append(
            FieldProblem(
                f"{where}.jwks_url",
                reason if isinstance(url_value, str) else "not a string",
                "give an https:// URL (http:// only for loopback)",
            )
        )
    tenants = _tenants(entry.get("tenants"), f"{where}.tenants", problems)
    if len(problems) > before:
        return None
    url = url_value if isinstance(url_value, str) else None
    return IssuerConfig(str(iss), jwks_file=jwks_file, jwks_url=url, tenants=tenants)


def _jwks_file(
    value: object, where: str, folder: Path, problems: list[FieldProblem]
) -> Path | None:
    if not isinstance(value, str) or not value:
        problems.append(FieldProblem(where, "not a file name", "give a path to a JWK Set file"))
        return None
    file = Path(value) if Path(value).is_absolute() else folder / value
    if not file.is_file():
        problems.append(
            FieldProblem(
                where, f"no such file: {file}", "paths are relative to the issuers file's folder"
            )
        )
        return None
    return file


def _url_problem(url: str) -> str:
    """Why a JWKS URL cannot be used ('' when it can): HTTPS, or HTTP on loopback only."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return f"{url!r} is not an http(s) URL"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"{url!r} uses plain http off loopback; keys must come over TLS"
    return ""


def _tenants(value: object, where: str, problems: list[FieldProblem]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t for t in value):
        problems.append(
            FieldProblem(
                where,
                "expected a non-empty list of strings",
                "list the tenant ids this issuer may send, or leave it out",
            )
        )
        return None
    return frozenset(value)


class PublicKey:
    """One public JWK, with the PyJWT key objects built from it cached per algorithm."""

    def __init__(self, jwk: dict[str, Any]) -> None:
        self.jwk = jwk
        self._by_alg: dict[str, PyJWK] = {}

    def for_algorithm(self, alg: str) -> PyJWK:
        """The key bound to ``alg``; raises PyJWTError if the key cannot serve it."""
        key = self._by_alg.get(alg)
        if key is None:
            key = self._by_alg[alg] = PyJWK(self.jwk, algorithm=alg)
        return key


def parse_jwk_set(data: object) -> dict[str, PublicKey]:
    """The signing keys of a JWK Set by ``kid``; raises ValueError naming what is wrong.

    Keys marked for encryption (``use: enc``) and keys without a ``kid`` are left out: a
    CDS Hooks token always names its key by ``kid`` (REQUIRED in the JWT header).
    """
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWK Set (expected an object with a 'keys' list)")
    keys: dict[str, PublicKey] = {}
    for index, jwk in enumerate(data["keys"]):
        if not isinstance(jwk, dict):
            raise ValueError(f"keys[{index}] is not an object")
        if PRIVATE_MEMBERS & set(jwk) or jwk.get("kty") == "oct":
            raise ValueError(
                f"keys[{index}] holds private or symmetric key material; publish public keys only"
            )
        kid = jwk.get("kid")
        if jwk.get("use", "sig") != "sig" or not isinstance(kid, str) or not kid:
            continue
        if kid in keys:
            raise ValueError(f"kid {kid!r} appears twice; a kid must be unique in its set")
        keys[kid] = PublicKey(jwk)
    return keys


class KeySource(Protocol):
    """Where one issuer's public keys come from."""

    def key(self, kid: str) -> PublicKey | None:
        """The key with this ``kid``, or None; raises KeysUnavailableError."""


class StaticKeySource:
    """A JWK Set file read once at start-up (the out-of-band case of the specification)."""

    def __init__(self, path: Path, iss: str) -> None:
        try:
            self._keys = parse_jwk_set(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError) as error:
            raise IssuerConfigError(
                f"{path}: the JWK Set of issuer {iss!r} cannot be used",
                [FieldProblem("jwks_file", str(error), "give the client's public JWK Set")],
            ) from None
        if not self._keys:
            raise IssuerConfigError(
                f"{path}: the JWK Set of issuer {iss!r} has no signing key with a kid",
                [FieldProblem("jwks_file", "no usable key", "each key needs 'kid'")],
            )

    def key(self, kid: str) -> PublicKey | None:
        return self._keys.get(kid)


class RemoteKeySource:
    """A JWK Set at an HTTPS URL, cached for ``ttl_s`` and refetched on an unknown ``kid``.

    Fetches are serialised per URL and never closer than ``min_refetch_s`` apart (also
    after a failure), so neither key rotation probes nor an outage turn into a stream of
    requests; a request arriving in that window uses what is cached.
    """

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        timeout_s: float,
        clock: Callable[[], float],
        ttl_s: float = 300.0,
        min_refetch_s: float = 30.0,
    ) -> None:
        self.url = url
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._lock = threading.Lock()
        self._keys: dict[str, PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None

    def key(self, kid: str) -> PublicKey | None:
        with self._lock:
            now = self._clock()
            fresh = self._fetched_at is not None and now - self._fetched_at < self._ttl_s
            if fresh and kid in self._keys:
                return self._keys[kid]
            if self._attempted_at is None or now - self._attempted_at >= self._min_refetch_s:
                self._attempted_at = now
                self._refresh(now)
            if self._fetched_at is None or now - self._fetched_at >= self._ttl_s + STALE_GRACE_S:
                raise KeysUnavailableError("the issuer's signing keys are unavailable")
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        try:
            self._keys = parse_jwk_set(json.loads(self._download()))
            self._fetched_at = now
        except (KeysUnavailableError, ValueError, RecursionError) as error:
            # Logged for the operator; the caller only learns that keys are unavailable.
            log.warning("JWKS %s not refreshed: %s", self.url, error)

    def _download(self) -> bytes:
        """The body, within ``timeout_s`` in total (httpx's timeout is per read)."""
        deadline = time.monotonic() + self._timeout_s
        body = bytearray()
        try:
            with self._client.stream("GET", self.url, timeout=self._timeout_s) as response:
                if response.status_code != httpx.codes.OK:
                    raise KeysUnavailableError(f"HTTP {response.status_code}")
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise KeysUnavailableError("JWK Set larger than the size limit")
                    if time.monotonic() > deadline:
                        raise KeysUnavailableError("JWK Set not received within the timeout")
        except httpx.HTTPError as error:
            raise KeysUnavailableError(f"{type(error).__name__}: {error}") from None
        return bytes(body)
