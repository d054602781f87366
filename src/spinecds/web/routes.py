"""The pages: the case form, the report, answering a question, and the patient handout.

Every assessment goes through :class:`spinecds.service.runner.Runner`, so the page is
audited like the REST API. Reports are rendered from the stored record, which is why a
report URL can be opened again later. The pages stay out of the OpenAPI document: they
are for people, not for API clients.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.concurrency import run_in_threadpool

from spinecds.errors import CaseError, FieldProblem
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.render.common import number
from spinecds.service.runner import Runner, RunnerDep
from spinecds.store import AssessmentRecord
from spinecds.web.answers import AnswerError, apply_answer
from spinecds.web.forms import (
    PRESENCE,
    UNITS,
    FieldErrors,
    FormValues,
    case_from_form,
    check_form,
    field_errors,
    form_schema,
    form_values,
)
from spinecds.web.handout import HandoutError, handout_pdf
from spinecds.web.report import report_view, rrl_words

__all__ = ["environment", "router"]

router = APIRouter(include_in_schema=False)

# Reports carry record ids in their URLs: never send them to the reference sites we link.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
MessageText = tuple[str, str]


def environment() -> Environment:
    """The templates' Jinja2 environment: autoescaped, strict about undefined names."""
    env = Environment(
        loader=PackageLoader("spinecds.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    env.filters["rrl_words"] = rrl_words
    env.globals["path_for"] = _path_for
    env.globals["PRESENCE"] = PRESENCE
    env.globals["UNITS"] = UNITS
    return env


@pass_context
def _path_for(context: Context, name: str, /, **params: Any) -> str:
    """A page's path (with any proxy prefix), for links that work behind a reverse proxy."""
    request: Request = context["request"]
    return str(request.url_for(name, **params).path)


templates = Jinja2Templates(env=environment())


# --- the case form -------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, name="web_form")
def case_form(
    request: Request,
    runner: RunnerDep,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> Response:
    """An empty form, or one filled with a stored case (``?from=<record id>``) to edit it."""
    record = _record(runner, from_) if from_ else None
    values = form_values(record.input) if record is not None else FormValues()
    return _form_page(request, runner.kb, values, FieldErrors())


@router.post("/assess", name="web_assess")
async def assess_form(request: Request, runner: RunnerDep) -> Response:
    form = await request.form()
    values = FormValues.from_pairs(form.multi_items())
    if values.get("action") == "more":  # more rows without JavaScript: show the form again
        return _form_page(request, runner.kb, values, FieldErrors())
    built = case_from_form(values, form_schema(runner.kb))
    try:
        if problems := check_form(built, runner.kb):
            raise CaseError("The form is incomplete.", problems)
        result = await run_in_threadpool(
            runner.run, built.data, interface="web", client=_client(request)
        )
    except CaseError as exc:
        problems = exc.problems or [FieldProblem("", exc.message)]
        errors = field_errors(problems, built, values)
        return _form_page(request, runner.kb, values, errors, status_code=422)
    return _see_report(request, result.record_id)


def _form_page(
    request: Request,
    kb: KnowledgeBase,
    values: FormValues,
    errors: FieldErrors,
    status_code: int = 200,
) -> Response:
    context = {
        "schema": form_schema(kb),
        "values": values,
        "errors": errors,
        "title": "Check the case" if errors else "New assessment",
    }
    return _page(request, "form.html", context, status_code)


# --- the report ----------------------------------------------------------------------------


@router.get("/report/{record_id}", response_class=HTMLResponse, name="web_report")
def report(
    request: Request,
    record_id: str,
    runner: RunnerDep,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> Response:
    """A stored report; ``?from=<record id>`` adds what changed since that report."""
    record = _record(runner, record_id)
    if record is None:
        return _not_found(request)
    previous = _record(runner, from_) if from_ else None
    return _report_page(request, runner.kb, record, previous)


@router.post("/report/{record_id}/answer", name="web_answer")
async def answer(request: Request, record_id: str, runner: RunnerDep) -> Response:
    """Re-assess the original case plus one answered question; the result is a new record."""
    record = _record(runner, record_id)
    if record is None:
        return _not_found(request)
    form = FormValues.from_pairs((await request.form()).multi_items())
    field, value = form.get("field"), form.get("value")
    asked = {str(q.get("field")) for q in _output(record).get("questions") or []}
    try:
        if field not in asked:
            raise AnswerError("This report does not ask that question.")
        data = apply_answer(record.input, field, value, runner.kb)
        result = await run_in_threadpool(runner.run, data, interface="web", client=_client(request))
    except AnswerError as exc:
        return _report_page(request, runner.kb, record, None, {field: str(exc)}, 422)
    except CaseError as exc:
        message = " ".join(p.problem for p in exc.problems) or exc.message
        return _report_page(request, runner.kb, record, None, {field: message}, 422)
    return _see_report(request, result.record_id, previous=record_id)


def _report_page(
    request: Request,
    kb: KnowledgeBase,
    record: AssessmentRecord,
    previous: AssessmentRecord | None,
    question_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = report_view(
        record.id,
        _output(record),
        record.input,
        kb,
        previous=_output(previous) if previous is not None else None,
        previous_id=previous.id if previous is not None else None,
        question_errors=question_errors,
    )
    context = {
        "view": view,
        "out": view.output,
        "record": record,
        "vocab": kb.vocabulary,
        "title": f"Report {record.case_id or record.id[:8]}",
    }
    return _page(request, "report.html", context, status_code)


@router.get("/report/{record_id}/handout.pdf", name="web_handout")
def handout(request: Request, record_id: str, runner: RunnerDep) -> Response:
    """The patient handout of a stored report, as a PDF to print or send."""
    record = _record(runner, record_id)
    if record is None:
        return _not_found(request)
    try:
        pdf = handout_pdf(templates.env, _output(record), runner.kb, record.started_at)
    except HandoutError as exc:
        text = ("No handout for this report", f"The handout cannot be made: {exc}.")
        return _message(request, text, 409)
    filename = f"spinecds-handout-{record.id[:8]}.pdf"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'inline; filename="{filename}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


# --- helpers -------------------------------------------------------------------------------


def _record(runner: Runner, record_id: str) -> AssessmentRecord | None:
    """A stored assessment with an output; a rejected request has no report to show."""
    record = runner.get(record_id)
    return record if record is not None and record.output is not None else None


def _output(record: AssessmentRecord) -> dict[str, Any]:
    return record.output or {}


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _see_report(request: Request, record_id: str, previous: str | None = None) -> Response:
    """303 See Other: the browser fetches the report with GET, so a reload never re-posts."""
    url = str(request.url_for("web_report", record_id=record_id).path)
    if previous:
        url += f"?from={previous}"
    return RedirectResponse(url, status_code=303)


def _not_found(request: Request) -> Response:
    text = (
        "Report not found",
        "There is no report with this address. It may have been mistyped, or the record "
        "may be in another database.",
    )
    return _message(request, text, 404)


def _message(request: Request, text: MessageText, status_code: int) -> Response:
    title, body = text
    return _page(request, "message.html", {"title": title, "body": body}, status_code)


def _page(request: Request, name: str, context: dict[str, Any], status_code: int) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
