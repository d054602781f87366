"""CDS Hooks prefetch: the templates spinecds asks for, and fetching what the EHR left out.

The CDS Hooks specification lets an EHR send fewer prefetch keys than asked; the service
then reads them from ``fhirServer`` with the ``fhirAuthorization`` bearer token. Every key
is fetched at once, all within one time budget; a key that cannot be had raises
:class:`PrefetchError` (the service answers 412, as the specification says).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

__all__ = ["PREFETCH", "PrefetchError", "fetch_missing_prefetch", "render_template"]

PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "reports": "DiagnosticReport?patient={{context.patientId}}",
    "devices": "Device?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
}
_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
# Search results may come in pages; a patient's record rarely needs more than a few.
MAX_PAGES = 10


class PrefetchError(Exception):
    """A prefetch key that could not be had: ``key`` and ``reason`` say which and why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"prefetch {key!r}: {reason}")
        self.key = key
        self.reason = reason


def render_template(key: str, template: str, context: Mapping[str, Any]) -> str:
    """Fill ``{{context.x}}`` tokens from the hook context (values URL-encoded)."""

    def value(match: re.Match[str]) -> str:
        path = match.group(1).split(".")
        if path[0] != "context" or len(path) != 2:
            raise PrefetchError(key, f"the template token {match.group(0)} is not supported")
        found = context.get(path[1])
        if not isinstance(found, str | int) or isinstance(found, bool) or str(found) == "":
            raise PrefetchError(key, f"the hook context has no {path[1]}")
        return quote(str(found), safe="")

    return _TOKEN.sub(value, template)


async def fetch_missing_prefetch(
    fhir_server: str,
    token: str | None,
    context: Mapping[str, Any],
    missing: list[str],
    timeout_s: float,
) -> dict[str, dict[str, Any]]:
    """GET each missing key's query from ``fhir_server``, all within ``timeout_s`` seconds."""
    unknown = [k for k in missing if k not in PREFETCH]
    if unknown:
        raise PrefetchError(unknown[0], "not a prefetch key of this service")
    paths = {key: render_template(key, PREFETCH[key], context) for key in missing}
    if not paths:
        return {}
    base = fhir_server.rstrip("/") + "/"
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout_s) as client:
        tasks = {
            key: asyncio.create_task(_get(client, base, key, path)) for key, path in paths.items()
        }
        try:
            async with asyncio.timeout(timeout_s):
                results = await asyncio.gather(*tasks.values())
        except TimeoutError:
            late = next((k for k, t in tasks.items() if t.cancelled() or not t.done()), missing[0])
            raise PrefetchError(
                late, f"no answer from the FHIR server within {timeout_s:g} s"
            ) from None
        finally:
            for task in tasks.values():
                task.cancel()
    return dict(zip(tasks, results, strict=True))


async def _get(client: httpx.AsyncClient, base: str, key: str, path: str) -> dict[str, Any]:
    body = await _get_json(client, key, path)
    # Follow a searchset's next pages on the same server only: the token must not leave it.
    pages = 1
    link = _next_link(body)
    while link and pages < MAX_PAGES:
        url = urljoin(base, link)
        if urlsplit(url)[:2] != urlsplit(base)[:2]:
            raise PrefetchError(key, "the next page is on another server")
        page = await _get_json(client, key, url)
        body.setdefault("entry", []).extend(page.get("entry") or [])
        link, pages = _next_link(page), pages + 1
    if link:
        raise PrefetchError(key, f"more than {MAX_PAGES} pages of results")
    if pages > 1:  # the merged bundle has no further pages
        body["link"] = [x for x in body.get("link") or [] if x.get("relation") != "next"]
    return body


async def _get_json(client: httpx.AsyncClient, key: str, url: str) -> dict[str, Any]:
    try:
        response = await client.get(url)
    except httpx.TimeoutException:
        raise PrefetchError(key, "the FHIR server did not answer in time") from None
    except httpx.HTTPError as exc:
        raise PrefetchError(
            key, f"the FHIR server cannot be reached ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        raise PrefetchError(key, f"the FHIR server answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise PrefetchError(key, "the FHIR server's answer is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise PrefetchError(key, "the FHIR server's answer is not a FHIR resource")
    return body


def _next_link(body: Mapping[str, Any]) -> str | None:
    if body.get("resourceType") != "Bundle":
        return None
    for link in body.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None
