"""The FastAPI application: one factory wiring settings, engine, audit log and routes.

``uvicorn --factory spinecds.service.app:create_app`` builds a fresh app per worker
process; everything else (knowledge base, compiled rules, database engine) is loaded
once per process here, never per request.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from spinecds import __version__
from spinecds.config import Settings, get_settings
from spinecds.knowledge.loader import default_kb
from spinecds.service import api, errors
from spinecds.service.cds import routes as cds_routes
from spinecds.service.runner import Runner
from spinecds.service.security import JwtVerifier, load_issuers
from spinecds.store import AuditStore

__all__ = ["create_app"]

log = logging.getLogger("spinecds.service")

DESCRIPTION = """Clinical decision support for neck pain after spine surgery.

* `POST /api/assess`: a case in, the cited assessment out (every assessment is audited).
* `/cds-services`: CDS Hooks 2.0 (patient-view, order-select, order-sign, feedback).
* `/`: the clinician web page.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the database schema is brought up to date first."""
    settings = settings or get_settings()
    kb = default_kb()
    store = AuditStore.from_url(settings.database_url)
    store.upgrade()
    app = FastAPI(
        title="spinecds",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "assessment", "description": "Assess cases and read stored assessments."},
            {"name": "knowledge", "description": "Vocabulary and knowledge-base version."},
            {"name": "cds-hooks", "description": "HL7 CDS Hooks 2.0 services."},
        ],
    )
    app.state.settings = settings
    app.state.runner = Runner(kb, store)
    app.state.verifier = _verifier(settings, store)
    errors.install(app)
    app.include_router(api.router)
    app.include_router(cds_routes.router)
    _install_cors(app, settings)
    _install_routers(app)
    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    """The generated document, plus the case model the assess endpoint reads."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            api.document_case_schema(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _verifier(settings: Settings, store: AuditStore) -> JwtVerifier | None:
    """JWT checks for CDS Hooks; the replay cache is the shared database (several replicas)."""
    if not settings.auth_enabled:
        log.warning("CDS Hooks JWT checks are off (serving on loopback %s)", settings.host)
        return None
    assert settings.issuers_file is not None  # noqa: S101 - Settings refuses auth without it
    return JwtVerifier(
        load_issuers(settings.issuers_file),
        replay=_DatabaseReplayCache(store),
        leeway_s=settings.jwt_leeway_s,
        http_timeout_s=settings.fhir_timeout_s,
    )


class _DatabaseReplayCache:
    """Seen token ids live in the shared database, so a replay to another replica fails too."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    def claim(self, iss: str, jti: str, expires_at: datetime) -> bool:
        return self.store.claim_jti(iss, jti, expires_at)


def _install_cors(app: FastAPI, settings: Settings) -> None:
    """Browser-based EHRs and the CDS Hooks sandbox call us from another origin.

    Tokens travel in the Authorization header, never in cookies, so credentials stay off
    and a wildcard origin is safe to allow.
    """
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=False,
        max_age=600,
    )


def _install_routers(app: FastAPI) -> None:
    """Routers that live in other packages: the web page and free-text extraction."""
    from spinecds.service.extract_api import router as extract_router
    from spinecds.web import install_web

    install_web(app)
    app.include_router(extract_router)
