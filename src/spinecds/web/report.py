"""What the report page shows, worked out from a stored assessment dict.

The page renders the audit record's output, not a fresh assessment, so a report shown
again later (or after a knowledge-base update) is the one the clinician first saw.
Labels and references come from the knowledge base; ids it no longer knows are shown
as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from spinecds.knowledge.loader import KnowledgeBase
from spinecds.render.common import PHASES, reference_line
from spinecds.web.answers import AnswerSpec, answer_spec
from spinecds.web.diagram import Stage, decision_path, decision_path_svg

__all__ = [
    "Change",
    "Citation",
    "OpenQuestion",
    "ReportView",
    "changes",
    "report_view",
    "rrl_words",
]

# Unknown red flags that could change the urgency are asked in the "do now" box.
URGENT_PRIORITY = 1
MAX_URGENT_QUESTIONS = 6
# Questions shown open at least; the rest are folded so the report stays readable.
SHOWN_QUESTIONS = 8


@dataclass(frozen=True, slots=True)
class Citation:
    number: int
    id: str
    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    anchor: str  # the question's element id, for links from the "do now" box
    id: str
    field: str
    ask: str
    would_change: str
    priority: int
    spec: AnswerSpec | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    what: str
    before: str
    after: str


@dataclass
class ReportView:
    record_id: str
    output: Mapping[str, Any]
    case: Mapping[str, Any]
    citations: list[Citation]
    phases: list[tuple[str, list[Mapping[str, Any]]]]
    questions: list[OpenQuestion]
    diagram: Markup
    path: list[Stage]
    changes: list[Change] = field(default_factory=list)
    previous_id: str | None = None
    cite_numbers: dict[str, int] = field(default_factory=dict)
    answer_error: str = ""  # an answer to a question this report does not ask

    def __post_init__(self) -> None:
        self.cite_numbers = {c.id: c.number for c in self.citations}

    @property
    def shown_questions(self) -> list[OpenQuestion]:
        return self.questions[: self._shown]

    @property
    def more_questions(self) -> list[OpenQuestion]:
        return self.questions[self._shown :]

    @property
    def _shown(self) -> int:
        """Every question that could change the urgency is shown; the rest may be folded."""
        urgent = sum(q.priority <= URGENT_PRIORITY for q in self.questions)
        return max(urgent, SHOWN_QUESTIONS)

    @property
    def planned_follow_up(self) -> list[Mapping[str, Any]]:
        return [f for f in self._follow_up if f.get("kind") != "return_sooner"]

    @property
    def return_sooner(self) -> list[Mapping[str, Any]]:
        return [f for f in self._follow_up if f.get("kind") == "return_sooner"]

    @property
    def urgent_questions(self) -> list[OpenQuestion]:
        urgent = [q for q in self.questions if q.priority <= URGENT_PRIORITY]
        return urgent[:MAX_URGENT_QUESTIONS]

    @property
    def chosen_imaging(self) -> set[str]:
        return {str(p) for p in self.output.get("next_imaging") or []}

    @property
    def _follow_up(self) -> list[Mapping[str, Any]]:
        return _mappings(self.output.get("follow_up"))


def report_view(
    record_id: str,
    output: Mapping[str, Any],
    case: Mapping[str, Any],
    kb: KnowledgeBase,
    *,
    previous: Mapping[str, Any] | None = None,
    previous_id: str | None = None,
    question_errors: Mapping[str, str] | None = None,
) -> ReportView:
    errors = question_errors or {}
    asked = {str(q.get("field")) for q in _mappings(output.get("questions"))}
    stray = " ".join(message for name, message in errors.items() if name not in asked)
    return ReportView(
        record_id=record_id,
        output=output,
        case=case,
        citations=_citations(output, kb),
        phases=_phases(output),
        questions=[
            OpenQuestion(
                anchor=f"q-{index}",
                id=str(q.get("id")),
                field=str(q.get("field")),
                ask=str(q.get("ask")),
                would_change=str(q.get("would_change") or ""),
                priority=int(q.get("priority") or 0),
                spec=answer_spec(str(q.get("field")), case, kb),
                error=errors.get(str(q.get("field")), ""),
            )
            for index, q in enumerate(_mappings(output.get("questions")), 1)
        ],
        diagram=Markup(decision_path_svg(output, kb)),  # noqa: S704 - built with html.escape
        path=decision_path(output, kb),
        changes=changes(previous, output, kb) if previous is not None else [],
        previous_id=previous_id,
        answer_error=stray,
    )


def _mappings(items: Any) -> list[Mapping[str, Any]]:
    return [x for x in items if isinstance(x, Mapping)] if isinstance(items, list) else []


def _phases(output: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    steps = _mappings(output.get("plan"))
    grouped = [(title, [s for s in steps if s.get("phase") == phase]) for phase, title in PHASES]
    known = {phase for phase, _ in PHASES}
    other = [s for s in steps if s.get("phase") not in known]
    if other:  # a phase added to the knowledge base after this page was written
        grouped.append(("Other", other))
    return [(title, items) for title, items in grouped if items]


def _citations(output: Mapping[str, Any], kb: KnowledgeBase) -> list[Citation]:
    return [
        Citation(number, ref_id, _reference_text(ref_id, kb), _reference_url(ref_id, kb))
        for number, ref_id in enumerate((str(c) for c in output.get("citations") or []), 1)
    ]


def _reference_text(ref_id: str, kb: KnowledgeBase) -> str:
    """The reference line without its ``[id]`` prefix and its URL (shown as a link)."""
    line = reference_line(ref_id, kb).removeprefix(f"[{ref_id}] ")
    url = _reference_url(ref_id, kb)
    return line.removesuffix(f" {url}") if url else line


def _reference_url(ref_id: str, kb: KnowledgeBase) -> str | None:
    ref = kb.references.get(ref_id)
    if ref is None:
        return None
    if ref.url:
        return ref.url
    if ref.doi:
        return f"https://doi.org/{ref.doi}"
    return f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/" if ref.pmid else None


def changes(before: Mapping[str, Any], after: Mapping[str, Any], kb: KnowledgeBase) -> list[Change]:
    """What an answer changed, in the order a clinician acts on it."""
    vocab = kb.vocabulary
    pairs: list[tuple[str, str, str]] = [
        (
            "Urgency",
            vocab.label("urgency", str(before.get("urgency"))),
            vocab.label("urgency", str(after.get("urgency"))),
        ),
        (
            "Pathway",
            vocab.label("pathway", str(before.get("pathway"))),
            vocab.label("pathway", str(after.get("pathway"))),
        ),
        ("ACR variant", _variant(before), _variant(after)),
        ("Next imaging", _joined(before.get("next_imaging")), _joined(after.get("next_imaging"))),
        ("Labs", _joined(before.get("labs")), _joined(after.get("labs"))),
        (
            "Referral",
            vocab.label("referral", str(before.get("referral"))),
            vocab.label("referral", str(after.get("referral"))),
        ),
        ("Leading diagnosis", _top(before), _top(after)),
        ("Plan steps", _joined(_titles(before)), _joined(_titles(after))),
    ]
    return [Change(what, old, new) for what, old, new in pairs if old != new]


def _variant(output: Mapping[str, Any]) -> str:
    acr = output.get("acr")
    if not isinstance(acr, Mapping):
        return "none"
    return f"{acr.get('topic')}, variant {acr.get('variant')}"


def _joined(items: Any) -> str:
    return "; ".join(str(x) for x in items) if isinstance(items, list) and items else "none"


def _top(output: Mapping[str, Any]) -> str:
    top = _mappings(output.get("differential"))
    return str(top[0].get("label")) if top else "none"


def _titles(output: Mapping[str, Any]) -> list[str]:
    return [str(p.get("title")) for p in _mappings(output.get("plan"))]


def rrl_words(rrl: Any, dose: Any = None) -> str:
    """The ACR relative radiation level in words, for screen readers (the symbols are ☢)."""
    text = str(rrl or "").strip()
    if not text:
        return "radiation level not given"
    if text == "O":
        words = "no ionising radiation"
    elif set(text) == {"\u2622"}:
        words = f"relative radiation level {len(text)} of 5"
    else:
        words = f"relative radiation level: {text.lower()}"
    return f"{words}, {dose}" if dose else words
