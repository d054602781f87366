"""The clinician report as a small document model, shared by the text and Markdown writers.

The report is built once as a list of blocks and then written out as plain text
(:mod:`spinecds.render.text`) or Markdown (:mod:`spinecds.render.markdown`), so the two
formats cannot drift apart in content or order: only the typography differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spinecds.assessment import Assessment, PlanItem
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.knowledge.schema import Reference

__all__ = [
    "Block",
    "Bullets",
    "Entry",
    "Heading",
    "Para",
    "Table",
    "cites",
    "clinician_report",
    "number",
    "reference_line",
    "urgency_banner",
    "with_cites",
]

MAX_AUTHORS = 3


@dataclass(frozen=True, slots=True)
class Heading:
    """A section title; level 1 is the report title, 2 a section, 3 a subsection."""

    text: str
    level: int = 2


@dataclass(frozen=True, slots=True)
class Para:
    """A paragraph; ``strong`` marks the urgency banner so Markdown can make it bold."""

    text: str
    strong: bool = False


@dataclass(frozen=True, slots=True)
class Bullets:
    """A list; numbered lists keep their numbers so references can be counted.

    ``children[i]``, when given, are short sub-points of ``items[i]`` (a test and what it is).
    """

    items: tuple[str, ...]
    numbered: bool = False
    children: tuple[tuple[str, ...], ...] = ()

    def sub(self, index: int) -> tuple[str, ...]:
        return self.children[index] if index < len(self.children) else ()


@dataclass(frozen=True, slots=True)
class Entry:
    """A titled item with labelled details (a diagnosis, a plan step, a conflict).

    An empty label prints the value alone, for the item's main sentence.
    """

    title: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of short cells; each renderer decides how to fit them on the page."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Para | Bullets | Entry | Table


def cites(ids: Iterable[str]) -> str:
    """Inline citations as ``[id] [id]`` so a reader can find them in the reference list."""
    return " ".join(f"[{ref}]" for ref in ids)


def with_cites(text: str, ids: Sequence[str]) -> str:
    """A sentence followed by its citations, or the sentence alone when it has none."""
    return f"{text} {cites(ids)}" if ids else text


def number(value: float | int | str | None) -> str:
    """Numbers without a spurious ``.0`` (``104.0`` weeks reads as ``104``)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def urgency_banner(urgency: str, pathway: str, referral: str, kb: KnowledgeBase) -> str:
    """The first line of every clinician report: how urgent, which pathway, which referral.

    The urgency id is shouted so it is seen first; the vocabulary label's explanation
    (``Emergency (same day, emergency department)``) follows it when there is one.
    """
    vocab = kb.vocabulary
    label = vocab.label("urgency", urgency)
    rest = label[len(urgency) :] if label.lower().startswith(urgency) else f" ({label})"
    return (
        f"URGENCY: {urgency.upper()}{rest}  |  "
        f"pathway: {vocab.label('pathway', pathway)}  |  "
        f"referral: {vocab.label('referral', referral)}"
    )


def _authors(authors: str | None) -> str:
    """First authors only: some references list more than twenty names."""
    if not authors:
        return "Anonymous"
    names = [n.strip() for n in _top_level_split(authors) if n.strip()]
    if len(names) <= MAX_AUTHORS:
        return ", ".join(names)
    return ", ".join(names[:MAX_AUTHORS]) + ", et al."


def _top_level_split(text: str) -> list[str]:
    """Split on commas outside parentheses: a panel's member list stays one name."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _locator(ref: Reference) -> str:
    """Where to read it: the URL, else the DOI, else the PubMed id."""
    if ref.url:
        return ref.url
    if ref.doi:
        return f"https://doi.org/{ref.doi}"
    return f"PMID {ref.pmid}" if ref.pmid else ""


def reference_line(ref_id: str, kb: KnowledgeBase) -> str:
    """One entry of the numbered reference list: ``[id] Authors (year). Title. URL``."""
    ref = kb.references.get(ref_id)
    if ref is None:
        return f"[{ref_id}] (not in the reference list of this knowledge version)"
    year = f" ({ref.year})" if ref.year else ""
    locator = _locator(ref)
    tail = f" {locator}" if locator else ""
    title = ref.title if ref.title.endswith(("?", "!", ".")) else f"{ref.title}."
    return f"[{ref_id}] {_authors(ref.authors)}{year}. {title}{tail}"


# --- the clinician report ------------------------------------------------------------------

PHASES = (
    ("now", "Now"),
    ("conservative", "Conservative care"),
    ("medicines", "Medicines"),
    ("interventional", "Interventional options"),
    ("surgical", "Surgical options"),
)
MAX_QUESTIONS = 10
DISCLAIMER = (
    "Decision support for a clinician: it informs, and does not replace, the judgement of "
    "the clinician who examines the patient."
)


def clinician_report(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    """Every section in reading order: what to do now first, the evidence behind it last."""
    return [
        *_lead(a, kb),
        *_context(a, kb),
        *_acr(a),
        *_imaging(a),
        *_conflicts(a),
        *_differential(a, kb),
        *_plan(a, kb),
        *_follow_up(a),
        *_warnings(a),
        *_order_review(a, kb),
        *_questions(a),
        *_references(a, kb),
        Para(f"Knowledge version {a.knowledge_version}. {DISCLAIMER}"),
    ]


def _lead(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    """Banner, why this pathway, and the actions a clinician takes before reading on."""
    vocab = kb.vocabulary
    blocks: list[Block] = [
        Para(urgency_banner(a.urgency, a.pathway, a.referral, kb), strong=True),
        Para(f"Why: {a.pathway_reason}"),
    ]
    if a.other_pathways:
        others = "; ".join(
            f"{vocab.label('pathway', o.pathway)} ({o.urgency}, rule {o.rule})"
            for o in a.other_pathways
        )
        blocks.append(Para(f"Other pathways also met: {others}."))
    items = [with_cites(d.text, d.cite) for d in a.do_now]
    items.append(_first_study(a))
    labs = "; ".join(vocab.label("lab", lab) for lab in a.labs) or "none now"
    items.append(f"Labs: {labs}.")
    items.append(f"Referral: {vocab.label('referral', a.referral)}.")
    urgent_questions = [q.ask for q in a.questions if q.priority <= 1][:6]
    if urgent_questions:
        # Unknown red flags are asked before anything else: they could change the urgency.
        items.append("Ask now (could change the urgency): " + " ".join(urgent_questions))
    return [*blocks, Heading("Do now"), Bullets(tuple(items))]


def _first_study(a: Assessment) -> str:
    if not a.imaging:
        return "Imaging: none needed now."
    first, rest = a.imaging[0], a.imaging[1:]
    rated = f" ({first.category}, {first.rating})" if first.category else ""
    then = f"; then {'; '.join(c.procedure for c in rest)}" if rest else ""
    return f"Image first: {first.procedure}{rated}{then}."


def _context(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    ctx, vocab = a.context, kb.vocabulary
    episodes = {e.value: e.label for e in kb.context.episodes}
    rows = [
        ("Case", a.case_id or "-"),
        ("Region", vocab.label("region", str(ctx.get("region") or "-"))),
        ("Phase", vocab.label("phase", str(ctx.get("phase") or "-"))),
        ("Weeks since surgery", number(ctx.get("weeks_since_surgery"))),
        ("Episode", episodes.get(str(ctx.get("episode")), "-")),
        (
            "Dominant symptom",
            vocab.label("dominant_symptom", str(ctx.get("dominant_symptom") or "-")),
        ),
    ]
    return [Heading("Context"), Bullets(tuple(f"{k}: {v}" for k, v in rows))]


def _acr(a: Assessment) -> list[Block]:
    acr = a.acr
    if acr is None:
        return [Heading("ACR variant"), Para("No ACR Appropriateness Criteria variant fits.")]
    items = [
        f"Topic: {acr.topic}",
        f"Variant: {number(acr.variant)} ({acr.key})",
        f"Our description: {acr.description}",
        f"Revision year: {number(acr.revision_year)}",
        f"Source: {acr.source}",
    ]
    items += [
        f"Related: {r.topic}, variant {number(r.variant)}: {r.description}" for r in acr.related
    ]
    return [Heading("ACR variant"), Bullets(tuple(items))]


def _radiation(rrl: str | None, dose: str | None) -> str:
    if not rrl:
        return "-"
    return f"{rrl} {dose}" if dose else rrl


def _imaging(a: Assessment) -> list[Block]:
    """Recommended studies first, then the full ACR table so alternatives can be weighed."""
    if not a.imaging:
        blocks: list[Block] = [Heading("Imaging"), Para("No imaging is recommended now.")]
    else:
        rows = tuple(
            (c.procedure, c.category or "-", number(c.rating), _radiation(c.rrl, c.rrl_dose))
            for c in a.imaging
        )
        blocks = [Heading("Imaging"), Table(("study", "ACR category", "rating", "radiation"), rows)]
        blocks.append(Bullets(tuple(_reasons(a))))
    if a.acr and a.acr.ratings:
        rows = tuple(
            (r.procedure, r.category, number(r.rating), _radiation(r.rrl, r.rrl_dose))
            for r in a.acr.ratings
        )
        title = f"All ACR ratings, variant {number(a.acr.variant)}"
        blocks += [Heading(title, 3), Table(("procedure", "category", "rating", "RRL"), rows)]
    return blocks


def _reasons(a: Assessment) -> list[str]:
    """Why each study, with studies that share one reason named together once."""
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for choice in a.imaging:
        grouped.setdefault((choice.why, tuple(choice.cite)), []).append(choice.procedure)
    return [
        with_cites(f"{' and '.join(names)}: {why}", list(ids))
        for (why, ids), names in grouped.items()
    ]


def _conflicts(a: Assessment) -> list[Block]:
    if not a.conflicts:
        return []
    blocks: list[Block] = [Heading("How the sources disagree and what applies here")]
    for c in a.conflicts:
        details = [
            (
                f"{p.id} (applies: {p.applies}{', followed' if p.id == c.followed else ''})",
                with_cites(p.claim, p.cite),
            )
            for p in c.positions
        ]
        details.append(("followed", f"{c.followed or 'none'}. {c.why}"))
        blocks.append(Entry(c.question, tuple(details)))
    return blocks


def _differential(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    blocks: list[Block] = [Heading("Differential diagnosis")]
    if not a.differential:
        return [*blocks, Para("No diagnosis reached the list.")]
    for d in a.differential:
        details = [
            ("for", "; ".join(d.for_) or "-"),
            ("against", "; ".join(d.against) or "-"),
        ]
        if d.risk_factors_present:
            risks = "; ".join(kb.vocabulary.label("finding", r) for r in d.risk_factors_present)
            details.append(("risk factors present", risks))
        details.append(("base rate", d.base_rate or "not given in our sources"))
        if d.unsourced:
            details.append(("note", d.unsourced))
        title = with_cites(f"{d.rank}. {d.label} - {d.support} support", d.cite)
        blocks.append(Entry(title, tuple(details)))
    return blocks


def _plan(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    blocks: list[Block] = [Heading("Plan")]
    for phase, title in PHASES:
        steps = [p for p in a.plan if p.phase == phase]
        if steps:
            blocks.append(Heading(title, 3))
            blocks += [_plan_entry(p, kb) for p in steps]
    return blocks if len(blocks) > 1 else [*blocks, Para("No management steps apply.")]


def _plan_entry(p: PlanItem, kb: KnowledgeBase) -> Entry:
    evidence = kb.vocabulary.label("evidence", p.evidence)
    if p.evidence_note:
        evidence = f"{evidence}. {p.evidence_note}"
    details = [("", p.text)]
    if p.duration:
        details.append(("duration", p.duration))
    details.append(("evidence", evidence))
    details += [("caution", c) for c in p.cautions]
    details.append(("because", p.rationale))
    return Entry(with_cites(p.title, p.cite), tuple(details))


def _follow_up(a: Assessment) -> list[Block]:
    names = {"reassess": "Reassess", "reimage": "Re-image"}
    planned = [
        with_cites(f"{names.get(f.kind, f.kind)}: {f.text}", f.cite)
        for f in a.follow_up
        if f.kind != "return_sooner"
    ]
    sooner = [with_cites(f.text, f.cite) for f in a.follow_up if f.kind == "return_sooner"]
    blocks: list[Block] = [Heading("Follow-up")]
    if planned:
        blocks.append(Bullets(tuple(planned)))
    if sooner:
        blocks += [Para("Come back sooner if:"), Bullets(tuple(sooner))]
    return blocks if len(blocks) > 1 else []


def _warnings(a: Assessment) -> list[Block]:
    if not a.warnings:
        return []
    return [Heading("Warnings"), Bullets(tuple(with_cites(w.text, w.cite) for w in a.warnings))]


def _order_review(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    review = a.order_review
    if review is None:
        return []
    details = [
        ("ACR category", review.category or "not rated in this variant"),
        ("rating", number(review.rating)),
        ("radiation", review.rrl or "-"),
        ("verdict", kb.vocabulary.label("verdict", review.verdict)),
        ("alternatives", "; ".join(review.alternatives) or "-"),
    ]
    details += [("reason", with_cites(r.text, r.cite)) for r in review.reasons]
    return [Heading("Order review"), Entry(f"Proposed: {review.order}", tuple(details))]


def _questions(a: Assessment) -> list[Block]:
    """The most decisive unknowns; the rest are counted, not hidden silently."""
    if not a.questions:
        return []
    shown = a.questions[:MAX_QUESTIONS]
    items = tuple(f"{q.ask} Would change: {q.would_change}" for q in shown)
    blocks: list[Block] = [Heading("Questions to ask"), Bullets(items, numbered=True)]
    more = len(a.questions) - len(shown)
    if more:
        blocks.append(Para(f"{more} more question{'s' if more > 1 else ''} in the JSON output."))
    return blocks


def _references(a: Assessment, kb: KnowledgeBase) -> list[Block]:
    if not a.citations:
        return []
    lines = tuple(reference_line(ref, kb) for ref in a.citations)
    return [Heading("References"), Bullets(lines, numbered=True)]
