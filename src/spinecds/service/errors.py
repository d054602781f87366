"""HTTP answers for user errors: a field path and a fix, never a 500 for bad input.

The body keeps FastAPI's 422 shape (``detail`` is a list of ``loc``/``msg``/``type``)
so generic clients understand it, and adds our ``fix`` and ``suggestions``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from spinecds.errors import CaseError, FieldProblem, KnowledgeBaseError, SpinecdsError
from spinecds.store import StoreError

__all__ = ["ServiceError", "field_loc", "install", "problem_detail"]

log = logging.getLogger("spinecds.service")
_INDEX = re.compile(r"\[(\d+)\]")


class ServiceError(Exception):
    """An answer other than 200 with a readable reason (401, 404, 412 ...)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def field_loc(path: str, root: str = "body") -> list[str | int]:
    """``surgeries[0].years_ago`` -> ``["body", "surgeries", 0, "years_ago"]``."""
    loc: list[str | int] = [root]
    for part in _INDEX.sub(r".\1", path).split("."):
        if part:
            loc.append(int(part) if part.isdigit() else part)
    return loc


def problem_detail(problem: FieldProblem, root: str = "body") -> dict[str, Any]:
    return {
        "loc": field_loc(problem.field, root),
        "msg": problem.problem,
        "type": "value_error",
        "fix": problem.fix,
        "suggestions": list(problem.suggestions),
    }


async def _case_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CaseError)  # noqa: S101 - registered for CaseError only
    detail = [problem_detail(p) for p in exc.problems] or [
        {"loc": ["body"], "msg": exc.message, "type": "value_error", "fix": "", "suggestions": []}
    ]
    return JSONResponse({"message": exc.message, "detail": detail}, status_code=422)


async def _spinecds_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpinecdsError)  # noqa: S101
    if isinstance(exc, StoreError | KnowledgeBaseError):  # our fault, not the caller's
        log.error("%s: %s", type(exc).__name__, exc)
        return JSONResponse(
            {"message": "The service cannot answer now; nothing was stored. Try again later."},
            status_code=503,
        )
    detail = [problem_detail(p) for p in exc.problems]
    return JSONResponse({"message": exc.message, "detail": detail}, status_code=400)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)  # noqa: S101
    return JSONResponse({"message": exc.message}, status_code=exc.status, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation (not JSON, wrong query value), with a fix per field."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    detail = []
    for error in exc.errors():
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        detail.append(
            {
                "loc": loc,
                "msg": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
                "fix": _fix_for(str(error.get("type", ""))),
                "suggestions": [],
            }
        )
    return JSONResponse({"message": "The request is not valid.", "detail": detail}, 422)


def _fix_for(kind: str) -> str:
    if kind.startswith("json"):
        return "send a JSON object with Content-Type: application/json"
    if kind in {"missing"}:
        return "add this field"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "send a value of the type the schema at /openapi.json gives"
    return "see the schema at /openapi.json"


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    return JSONResponse(
        {"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(CaseError, _case_error)
    app.add_exception_handler(SpinecdsError, _spinecds_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
