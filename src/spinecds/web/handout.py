"""The patient handout as a PDF: the plain-language version, laid out for printing.

The words are the patient renderer's (:mod:`spinecds.render.patient`), built from the
vocabulary's plain strings and the follow-up items' plain texts; this module only lays
them out. The handout is made from the stored assessment, so it matches the report the
clinician saw even if the knowledge base has changed since.

WeasyPrint loads Pango and friends at import (Debian: ``libpango-1.0-0`` and
``libpangoft2-1.0-0``, which pull in ``libglib2.0-0``, ``libharfbuzz0b`` and
``libfontconfig1``; ``libharfbuzz-subset0`` is optional and makes the PDF smaller) and
needs at least one font (``fonts-dejavu-core``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment
from pydantic import ValidationError

from spinecds.assessment import Assessment
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.render.patient import CLOSING, TITLE, how_soon, patient_sections

__all__ = ["HandoutError", "assessment_from_output", "handout_html", "handout_pdf"]

# WeasyPrint reports CSS it ignores through logging; our stylesheet is fixed, so those
# messages are noise in a server log.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


class HandoutError(ValueError):
    """A stored assessment that this version cannot read back (an older output shape)."""


def assessment_from_output(output: Mapping[str, Any]) -> Assessment:
    """The stored JSON dict back as an Assessment (``for`` is ``for_`` in Python)."""
    data = dict(output)
    data["differential"] = [
        {("for_" if k == "for" else k): v for k, v in d.items()}
        for d in output.get("differential") or []
        if isinstance(d, Mapping)
    ]
    try:
        return Assessment.model_validate(data)
    except ValidationError as exc:
        raise HandoutError(
            f"this record's output does not fit the current assessment format "
            f"({exc.error_count()} problems); assess the case again for a handout"
        ) from None


def handout_html(
    env: Environment,
    output: Mapping[str, Any],
    kb: KnowledgeBase,
    made_at: datetime | None = None,
) -> str:
    """The handout page (also useful on its own, e.g. to test its content)."""
    assessment = assessment_from_output(output)
    return env.get_template("handout.html").render(
        title=TITLE,
        how_soon=how_soon(assessment, kb),
        emergency=assessment.urgency == "emergency",
        sections=patient_sections(assessment, kb),
        closing=CLOSING,
        made_at=made_at,
        knowledge_version=assessment.knowledge_version,
    )


def handout_pdf(
    env: Environment,
    output: Mapping[str, Any],
    kb: KnowledgeBase,
    made_at: datetime | None = None,
) -> bytes:
    """The handout as PDF bytes (WeasyPrint is imported here: it takes ~0.3 s to load)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    html = handout_html(env, output, kb, made_at)
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
