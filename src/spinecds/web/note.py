"""Start from a note: paste a clinic note or radiology report, get the case form filled.

``POST /note`` reads the note with :func:`spinecds.nlp.extract`, merges what it says under
what the form already held (the clinician's entries win) and shows the form again beside
the note, every mention marked with its assertion and linked to the control it filled.
Nothing is assessed or stored here: the clinician checks the form and presses Assess,
which posts to ``/assess`` like any other form.

The note box sits inside the case form (its button posts the whole form here with
``formaction``), so whatever the clinician typed before pasting the note is kept, without
JavaScript.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from spinecds.errors import CaseError, KnowledgeBaseError
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.nlp import extract
from spinecds.service.runner import RunnerDep
from spinecds.web.forms import FieldErrors, FormValues, case_from_form, form_schema, form_values
from spinecds.web.note_view import (
    ASSERTION_TAGS,
    NoteReading,
    count_to_today,
    merge_note,
    note_reading,
)
from spinecds.web.routes import SECURITY_HEADERS, templates

__all__ = ["MAX_NOTE_CHARS", "current_date", "router"]

router = APIRouter(include_in_schema=False)

MAX_NOTE_CHARS = 50_000
OLDEST_NOTE = date(1900, 1, 1)
NOTE_NAME = "the note"
# Form names of the note box; the case form ignores them.
NOTE, NOTE_DATE, NOTE_FILLED = "note", "note_date", "note_filled"
_TOO_LONG = (
    f"The limit is {MAX_NOTE_CHARS:,} characters: paste the part about this episode "
    "(history, examination, imaging)."
)


def current_date() -> date:
    """Today, as a dependency so tests can freeze it."""
    return date.today()


TodayDep = Annotated[date, Depends(current_date)]
# The date field shows today until the clinician changes it.
templates.env.globals["note_today"] = lambda: current_date().isoformat()


@router.post("/note", name="web_note")
async def read_note(request: Request, runner: RunnerDep, today: TodayDep) -> Response:
    """Fill the case form from the pasted note; show the note with what was read in it."""
    try:
        values = FormValues.from_pairs((await request.form()).multi_items())
    except HTTPException as exc:  # Starlette refuses a field over 1 MB before we see it
        message = f"The form could not be read ({exc.detail}). {_TOO_LONG}"
        return _form_page(request, runner.kb, FormValues(), _errors(NOTE, message), None, 422)
    text = note_text(values)
    written_on, errors = _check(text, values.get(NOTE_DATE), today)
    if errors or written_on is None:
        return _form_page(request, runner.kb, values, errors, None, 422)
    try:
        extraction = await run_in_threadpool(extract, [text], names=[NOTE_NAME], today=written_on)
    except CaseError as exc:  # the reader's own limits, named in its words
        message = " ".join(f"{p.problem} Fix: {p.fix}" for p in exc.problems) or exc.message
        return _form_page(request, runner.kb, values, _errors(NOTE, message), None, 422)
    except KnowledgeBaseError as exc:
        return _unavailable(request, exc)
    typed = _without_note_values(values)
    built = case_from_form(typed, form_schema(runner.kb))
    merged = merge_note(built.data, count_to_today(extraction.case, written_on, today))
    reading = note_reading(extraction, merged, runner.kb.vocabulary, today)
    filled = _with_note(form_values(merged.case), typed, text, written_on)
    return _form_page(request, runner.kb, filled, FieldErrors(), reading, 200)


def note_text(values: FormValues) -> str:
    """The pasted text as typed (not stripped: spans count from its first character).

    Browsers send a textarea's line breaks as CR LF; the reader and the marks use LF.
    """
    raw = values.values.get(NOTE, ("",))[0]
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def _check(text: str, raw_date: str, today: date) -> tuple[date | None, FieldErrors]:
    if not text.strip():
        return None, _errors(NOTE, "Paste the text of a clinic note or radiology report.")
    if len(text) > MAX_NOTE_CHARS:
        return None, _errors(
            NOTE,
            f"The note is {len(text):,} characters long. {_TOO_LONG}",
        )
    if not raw_date:
        return today, FieldErrors()
    try:
        written_on = date.fromisoformat(raw_date)
    except ValueError:
        return None, _errors(NOTE_DATE, "Give the date as year-month-day, e.g. 2026-03-01.")
    if written_on > today:
        return None, _errors(NOTE_DATE, "This date is after today: give the day it was written.")
    if written_on < OLDEST_NOTE:
        return None, _errors(NOTE_DATE, f"Give a date after {OLDEST_NOTE.year}.")
    return written_on, FieldErrors()


def _errors(control: str, message: str) -> FieldErrors:
    where = {NOTE: "Note", NOTE_DATE: "Note written on"}[control]
    return FieldErrors({control: [message]}, [(f"{where}: {message}", control)])


# --- reading a note again -------------------------------------------------------------------


def _without_note_values(values: FormValues) -> FormValues:
    """The form without what an earlier reading filled and the clinician left unchanged.

    Otherwise a corrected note read again could not replace what the first reading put
    in the form: those values would count as the clinician's entries. Values the
    clinician changed since stay theirs.
    """
    earlier = [pair.partition("=") for pair in values.getlist(NOTE_FILLED)]
    kept: dict[str, tuple[str, ...]] = {}
    for name, posted in values.values.items():
        if name in (NOTE, NOTE_DATE, NOTE_FILLED):
            continue
        stale = {value for n, _, value in earlier if n == name}
        kept[name] = tuple(v for v in posted if v.strip() not in stale)
    return FormValues(kept)


def _with_note(filled: FormValues, typed: FormValues, text: str, written_on: date) -> FormValues:
    """The filled form, plus the note box and a record of which values the note supplied."""
    pairs: list[tuple[str, str]] = []
    for name, values in filled.values.items():
        pairs += [(name, value) for value in values]
        typed_values = set(typed.getlist(name))
        pairs += [(NOTE_FILLED, f"{name}={v}") for v in values if v not in typed_values]
    pairs += [(NOTE, text), (NOTE_DATE, written_on.isoformat())]
    return FormValues.from_pairs(pairs)


# --- pages ----------------------------------------------------------------------------------


def _form_page(
    request: Request,
    kb: KnowledgeBase,
    values: FormValues,
    errors: FieldErrors,
    reading: NoteReading | None,
    status_code: int,
) -> Response:
    context: dict[str, Any] = {
        "schema": form_schema(kb),
        "values": values,
        "errors": errors,
        "title": "Check the note" if errors else "Check what the note filled",
        "reading": reading,
        "ASSERTION_TAGS": ASSERTION_TAGS,
    }
    return _page(request, "form.html", context, status_code)


def _unavailable(request: Request, exc: KnowledgeBaseError) -> Response:
    body = (
        "The note reader cannot start on this server, so the note was not read. The case "
        f"form still works: enter the case by hand. ({exc.message})"
    )
    return _page(request, "message.html", {"title": "Notes cannot be read", "body": body}, 503)


def _page(request: Request, name: str, context: dict[str, Any], status_code: int) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
