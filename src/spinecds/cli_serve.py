"""``spinecds serve``: the REST API, CDS Hooks services and web page on uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from pydantic import ValidationError

from spinecds.errors import FieldProblem, SpinecdsError

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[str | None, typer.Option(help="Address to bind [SPINECDS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [SPINECDS_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [SPINECDS_WORKERS].")
    ] = None,
) -> None:
    """Serve the API, CDS Hooks and the web page (default http://127.0.0.1:8000)."""
    import uvicorn

    from spinecds.config import Settings, get_settings
    from spinecds.store import AuditStore

    # Options win over the environment; workers read the same values from it.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"SPINECDS_{name}"] = str(value)
    get_settings.cache_clear()
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SpinecdsError(
            "The service settings are not valid.",
            [
                FieldProblem("SPINECDS_" + ".".join(map(str, e["loc"])).upper(), e["msg"], "")
                for e in exc.errors()
            ],
        ) from None
    # Migrate once here, so several workers never race to create the schema.
    with AuditStore.from_url(settings.database_url) as store:
        store.upgrade()
    typer.echo(f"spinecds serving on {settings.base_url} (database {_safe(settings.database_url)})")
    uvicorn.run(
        "spinecds.service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
    )


def _safe(url: str) -> str:
    """The database URL without its password, for the start-up line."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
