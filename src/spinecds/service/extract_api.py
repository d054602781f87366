"""``POST /api/extract``: free text in, the case fragment with its evidence out.

The answer is the JSON of ``spinecds extract``. Bad input (no text, both ``text`` and
``texts``, a blank or oversized text, an unknown key, a malformed date) gets a 422 naming
the field. The spaCy pipeline loads on the first request (about a second) and is shared.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spinecds.nlp.extract import MAX_TEXT_CHARS, MAX_TEXTS

__all__ = ["ExtractRequest", "router"]

router = APIRouter()

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class ExtractRequest(BaseModel):
    """One text (``text``) or several (``texts``), and optionally the date of reading."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "58M s/p C5-6 ACDF 2019 with new tingling down the right arm. "
                    "Denies fevers, chills or night sweats.",
                    "today": "2026-11-21",
                }
            ]
        },
    )

    text: Text | None = None
    texts: list[Text] | None = Field(default=None, min_length=1, max_length=MAX_TEXTS)
    today: date | None = Field(
        default=None, description="Date the texts are read on, for '2 years ago' (default today)."
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the text is blank; send the note's words")
        return value

    @field_validator("texts")
    @classmethod
    def _none_blank(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not t.strip() for t in value):
            raise ValueError("a text is blank; send each note's words")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> ExtractRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send either 'text' (one note) or 'texts' (a list), not both or none")
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


@router.post(
    "/api/extract",
    tags=["free text"],
    summary="Read clinic notes and radiology reports",
    response_description="A case fragment and, for every mention, its evidence.",
    responses={422: {"description": "A field is wrong: its path, the problem and the fix."}},
)
def extract_texts(request: ExtractRequest) -> dict[str, Any]:
    """Surgeries, complaint, findings (true or false) and imaging, each with the exact words,
    character span, sentence, section and assertion (present, negated, possible, historical,
    hypothetical, someone else). Only present and negated findings enter the case."""
    from spinecds.nlp import extract

    texts = request.all_texts()
    names = [f"text {i + 1}" for i in range(len(texts))]
    return extract(texts, names=names, today=request.today).to_json_dict()
