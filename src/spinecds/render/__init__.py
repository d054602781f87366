"""Renderers: the clinician report (text, Markdown, JSON) and the patient version.

Every interface (CLI, service, batch) calls :func:`render`, so a report reads the same
wherever it is produced. The clinician report is built once as blocks and only written
out differently; the patient version is built from the vocabulary's plain words.
"""

from __future__ import annotations

import json

from spinecds.assessment import Assessment
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.render.common import clinician_report
from spinecds.render.markdown import render_markdown
from spinecds.render.patient import render_patient
from spinecds.render.text import render_text

__all__ = ["AUDIENCES", "FORMATS", "render"]

FORMATS = ("text", "markdown", "json")
AUDIENCES = ("clinician", "patient")


def render(assessment: Assessment, kb: KnowledgeBase, fmt: str, audience: str) -> str:
    """The report for ``audience`` (clinician | patient) in ``fmt`` (text | markdown | json).

    A programming error, not a user error, if either is unknown: the CLI only offers these.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")
    if audience == "patient":
        return render_patient(assessment, kb, fmt)
    if fmt == "json":
        return json.dumps(assessment.to_json_dict(), indent=2, ensure_ascii=False)
    blocks = clinician_report(assessment, kb)
    return render_markdown(blocks) if fmt == "markdown" else render_text(blocks)
