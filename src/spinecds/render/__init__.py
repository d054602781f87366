"""Renderers: clinician text and markdown reports, and the patient version."""

from __future__ import annotations

from spinecds.assessment import Assessment
from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["render"]


def render(assessment: Assessment, kb: KnowledgeBase, fmt: str, audience: str) -> str:
    import json

    return json.dumps(assessment.to_json_dict(), indent=2)
