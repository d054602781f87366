"""The clinician web page: a case form, the report, its decision-path diagram and a handout.

The form can start from a pasted clinic note or radiology report (:mod:`spinecds.web.note`).

Server-rendered Jinja2 templates (autoescaped) over the same runner as the REST API, so
every assessment made on the page is audited like any other. The page works without
JavaScript, with a keyboard and on a phone.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from spinecds.web.note import router as note_router
from spinecds.web.routes import router

__all__ = ["STATIC_DIR", "install_web"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


def install_web(app: FastAPI) -> None:
    """Add the pages and their stylesheet (``/static``) to ``app``.

    ``app.state.runner`` (a :class:`spinecds.service.runner.Runner`) must be set.
    """
    app.include_router(router)
    app.include_router(note_router)  # start from a pasted note (issue 4)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
