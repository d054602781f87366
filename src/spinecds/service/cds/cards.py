"""Assessments as CDS Hooks cards: short summaries, cited detail, suggestions, links.

Card wording is assembled from the assessment's own cited text; nothing clinical is
written here. Summaries stay under the specification's 140 characters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from spinecds.assessment import Assessment, OrderReview
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.service.cds.config import CdsConfig

__all__ = ["CardContext", "CardFactory", "order_card", "patient_view_card", "summary_text"]

SUMMARY_LIMIT = 140
_VERDICT_WORDS = {
    "appropriate": "fits",
    "consider_alternative": "consider another study",
    "not_appropriate": "not appropriate",
}
_URGENCY_WORDS = {"emergency": "EMERGENCY", "urgent": "Urgent", "routine": "Routine"}

# ACR procedure name -> an R4 CodeableConcept (codes from ../shared/codes only).
CodingFor = Callable[[str], dict[str, Any]]


class CardContext:
    """What every card of one request shares: configuration, links and sources."""

    def __init__(self, cfg: CdsConfig, kb: KnowledgeBase, base_url: str, record_id: str) -> None:
        self.cfg = cfg
        self.kb = kb
        self.base_url = base_url
        self.record_id = record_id

    @property
    def report_url(self) -> str:
        return f"{self.base_url}/report/{self.record_id}"

    def source(self, assessment: Assessment) -> dict[str, Any]:
        """The ACR document behind the variant, else the knowledge base itself."""
        source: dict[str, Any] = {
            "label": self.cfg.source_label,
            "topic": {
                "system": self.cfg.local_system,
                "code": self.cfg.topic.code,
                "display": self.cfg.topic.display,
            },
        }
        acr = assessment.acr
        if acr is not None and acr.key in self.kb.variants:
            topic, _ = self.kb.variants[acr.key]
            year = f", {topic.revision_year}" if topic.revision_year else ""
            source["label"] = (
                f"ACR Appropriateness Criteria: {topic.topic}{year} (via {self.cfg.source_label})"
            )
            if topic.source.url:
                source["url"] = topic.source.url
        return source

    def links(self) -> list[dict[str, str]]:
        return [{"label": "Full spinecds report", "url": self.report_url, "type": "absolute"}]


class CardFactory:
    """What every card of one request shares; called with an audit record id."""

    def __init__(self, cfg: CdsConfig, kb: KnowledgeBase, base_url: str) -> None:
        self.cfg = cfg
        self.kb = kb
        self.base_url = base_url

    def __call__(self, record_id: str) -> CardContext:
        return CardContext(self.cfg, self.kb, self.base_url, record_id)


def summary_text(text: str) -> str:
    """Cut at a word boundary to the specification's limit, marking the cut."""
    if len(text) < SUMMARY_LIMIT:
        return text
    return text[: SUMMARY_LIMIT - 2].rsplit(" ", 1)[0] + " …"


def _indicator(ctx: CardContext, assessment: Assessment, verdict: str | None) -> str:
    """The more serious of the urgency's and the order verdict's indicator."""
    rank = {"info": 0, "warning": 1, "critical": 2}
    chosen = ctx.cfg.indicator_by_urgency[assessment.urgency]
    if verdict is not None:
        by_verdict = ctx.cfg.indicator_by_verdict[verdict]  # type: ignore[index]
        chosen = max(chosen, by_verdict, key=rank.__getitem__)
    return chosen


def _radiation(rrl: str | None) -> str:
    """ACR relative radiation level; "O" is the ACR's mark for none."""
    if rrl is None:
        return "radiation not rated"
    return "no ionising radiation" if rrl == "O" else f"radiation {rrl}"


def _cites(ids: list[str]) -> str:
    return " [" + ", ".join(ids) + "]" if ids else ""


def _detail(assessment: Assessment, review: OrderReview | None, ctx: CardContext) -> str:
    lines: list[str] = []
    lines.append(f"**{_URGENCY_WORDS[assessment.urgency]}.** {assessment.pathway_reason}")
    if assessment.do_now:
        lines.append("\n**Do now**")
        lines += [f"- {item.text}{_cites(item.cite)}" for item in assessment.do_now]
    if review is not None:
        lines.append("\n**This order**")
        lines += [f"- {reason.text}{_cites(reason.cite)}" for reason in review.reasons]
    if assessment.acr is not None:
        acr = assessment.acr
        lines.append(f"\n**ACR variant**: {acr.topic}, variant {acr.variant}: {acr.description}")
    if assessment.imaging:
        lines.append("\n**Recommended imaging**")
        for choice in assessment.imaging[:3]:
            rated = f" ({choice.category}, {_radiation(choice.rrl)})" if choice.category else ""
            lines.append(f"- {choice.procedure}{rated}: {choice.why}{_cites(choice.cite)}")
    if assessment.questions:
        lines.append("\n**Would change the answer**")
        lines += [f"- {q.ask} {q.would_change}" for q in assessment.questions[:3]]
    lines.append(f"\n[Full report]({ctx.report_url}) · knowledge {assessment.knowledge_version}")
    return "\n".join(lines)


def patient_view_card(assessment: Assessment, ctx: CardContext) -> dict[str, Any]:
    """One card: how urgent, the next step, and a link to the full report."""
    if assessment.do_now:
        step = assessment.do_now[0].text
    elif assessment.next_imaging:
        step = f"next: {assessment.next_imaging[0]}"
    else:
        step = f"next: {assessment.plan[0].title}" if assessment.plan else "see the report"
    summary = f"{_URGENCY_WORDS[assessment.urgency]} neck pain after spine surgery; {step}"
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary_text(summary),
        "detail": _detail(assessment, None, ctx),
        "indicator": _indicator(ctx, assessment, None),
        "source": ctx.source(assessment),
        "links": ctx.links(),
    }


def order_card(
    assessment: Assessment,
    order: Mapping[str, Any],
    ctx: CardContext,
    coding_for: CodingFor,
) -> dict[str, Any]:
    """The ACR category, rating and radiation of the order, and a swap when one fits better."""
    review = assessment.order_review
    assert review is not None  # noqa: S101 - only called for cases with a proposed order
    if review.category is None:
        rated = "not rated for this presentation"
    else:
        rated = f"{review.category} ({review.rating}/9, {_radiation(review.rrl)})"
    summary = f"{review.order}: {rated}; {_VERDICT_WORDS[review.verdict]}"
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary_text(summary),
        "detail": _detail(assessment, review, ctx),
        "indicator": _indicator(ctx, assessment, review.verdict),
        "source": ctx.source(assessment),
        "links": ctx.links(),
    }
    if review.verdict != "appropriate" and review.alternatives:
        card["suggestions"] = [
            _replace_suggestion(order, alternative, assessment, coding_for)
            for alternative in review.alternatives[:3]
        ]
        card["selectionBehavior"] = "at-most-one"
        card["overrideReasons"] = [
            {"system": ctx.cfg.local_system, "code": r.code, "display": r.display}
            for r in ctx.cfg.override_reasons
        ]
    return card


def _replace_suggestion(
    order: Mapping[str, Any], alternative: str, assessment: Assessment, coding_for: CodingFor
) -> dict[str, Any]:
    """Delete the draft order and create the better-suited one in its place."""
    choice = next((c for c in assessment.imaging if c.procedure == alternative), None)
    rated = f" ({choice.category}, {_radiation(choice.rrl)})" if choice and choice.category else ""
    new_order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": order.get("intent") or "order",
        "code": coding_for(alternative),
    }
    for key in ("subject", "encounter", "requester", "reasonCode", "reasonReference"):
        if key in order:
            new_order[key] = order[key]
    return {
        "label": summary_text(f"Order {alternative} instead{rated}"),
        "uuid": str(uuid.uuid4()),
        "isRecommended": assessment.next_imaging[:1] == [alternative],
        "actions": [
            {
                "type": "delete",
                "description": f"Remove the draft order for {order_label(order)}",
                "resourceId": [f"ServiceRequest/{order.get('id')}"],
            },
            {
                "type": "create",
                "description": f"Add a draft order for {alternative}",
                "resource": new_order,
            },
        ],
    }


def order_label(order: Mapping[str, Any]) -> str:
    code = order.get("code") or {}
    if isinstance(code, Mapping) and code.get("text"):
        return str(code["text"])
    for coding in (code.get("coding") or []) if isinstance(code, Mapping) else []:
        if isinstance(coding, Mapping) and coding.get("display"):
            return str(coding["display"])
    return "this study"
