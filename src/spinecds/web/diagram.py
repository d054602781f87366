"""The decision path as an SVG: triage -> ACR variant -> next imaging -> results -> plan.

Each column lists what the knowledge base could choose at that step (every pathway;
the ACR variants the variant rules can pick for this pathway; the studies rated usually
appropriate; every result rule; every plan phase) and this case's choices are drawn
filled, bold and joined by arrows, so the highlight does not rely on colour alone.
Everything comes from the stored assessment (``pathway``, ``acr.key``, ``next_imaging``,
``trace``, ``plan``) and the knowledge base; nothing is hard-coded per pathway.

The SVG has ``role="img"``, a ``<title>`` and a ``<desc>`` that says the path in words;
every node also carries its full label as a ``<title>`` (a tooltip for sighted users).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from spinecds.knowledge.loader import KnowledgeBase
from spinecds.render.common import PHASES

__all__ = ["Stage", "decision_path", "decision_path_svg"]

COLUMN_WIDTH = 240
NODE_WIDTH = 216
LINE_HEIGHT = 15
PADDING = 8
GAP = 8
TOP = 44
LINE_CHARS = 27  # at 12 px, bold: fits NODE_WIDTH
MAX_LINES = 3
NO_VARIANT = "none"
PENDING = "pending"
NO_IMAGING = "none"
APPROPRIATE = "Usually Appropriate"
Box = tuple[int, int, int]  # x, y, height of a node
# Kept inside the SVG so the diagram looks the same wherever it is shown. The chosen path
# is filled, bold and ticked, so it does not rely on colour alone.
STYLE = (
    ".dp-head{font:700 13px sans-serif;fill:#1a1a1a}"
    ".dp-node rect{fill:#fff;stroke:#767676;stroke-width:1}"
    ".dp-node text{font:12px sans-serif;fill:#333}"
    ".dp-on rect{fill:#1d4e89;stroke:#0b2545;stroke-width:2}"
    ".dp-on text{fill:#fff;font-weight:700}"
    ".dp-also rect{stroke:#1d4e89;stroke-width:2;stroke-dasharray:5 3}"
    ".dp-edge{stroke:#1d4e89;stroke-width:2}"
    ".dp-arrowhead{fill:#1d4e89}"
)


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    label: str
    on_path: bool
    detail: str = ""
    also: bool = False  # another pathway this case also met (drawn dashed)
    sub: str = ""  # a last line kept whole (the variant number), however long the label

    def lines(self) -> list[str]:
        label = ("\u2714 " if self.on_path else "") + self.label
        room = MAX_LINES - 1 if self.sub else MAX_LINES
        lines = textwrap.wrap(label, LINE_CHARS) or [""]
        if len(lines) > room:
            rest = " ".join(lines[room - 1 :])
            lines = [*lines[: room - 1], textwrap.shorten(rest, LINE_CHARS, placeholder="...")]
        return [*lines, self.sub] if self.sub else lines

    @property
    def text(self) -> str:
        """The whole label in one line, for the description and the caption."""
        return f"{self.label}, {self.sub}" if self.sub else self.label

    @property
    def height(self) -> int:
        return len(self.lines()) * LINE_HEIGHT + 2 * PADDING


@dataclass(frozen=True, slots=True)
class Stage:
    title: str
    nodes: tuple[Node, ...]

    @property
    def chosen(self) -> list[Node]:
        return [n for n in self.nodes if n.on_path]


def decision_path(output: Mapping[str, Any], kb: KnowledgeBase) -> list[Stage]:
    """The five steps with this case's choices marked, from a stored assessment dict."""
    trace = [t for t in output.get("trace") or [] if isinstance(t, Mapping)]
    return [
        _triage(output, kb, trace),
        _variants(output, kb, trace),
        _imaging(output),
        _results(kb, trace, bool(output.get("next_imaging"))),
        _plan(output),
    ]


def decision_path_svg(output: Mapping[str, Any], kb: KnowledgeBase) -> str:
    """The diagram as an inline SVG string (escaped; safe to insert into HTML)."""
    stages = decision_path(output, kb)
    positions = _layout(stages)
    width = COLUMN_WIDTH * len(stages)
    height = max(y + h for _, y, h in positions.values()) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="decision-path" role="img" aria-labelledby="dp-title dp-desc">',
        '<title id="dp-title">Decision path of this case</title>',
        f'<desc id="dp-desc">{escape(describe(stages))}</desc>',
        f"<style>{STYLE}</style>",
        '<defs><marker id="dp-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="dp-arrowhead"/></marker></defs>',
    ]
    parts += _headers(stages)
    parts += _edges(stages, positions)
    for i, stage in enumerate(stages):
        parts += [_node(n, *positions[(i, n.key)]) for n in stage.nodes]
    parts.append("</svg>")
    return "\n".join(parts)


def describe(stages: Sequence[Stage]) -> str:
    """The highlighted path in one sentence per step, for the SVG ``<desc>``."""
    steps = []
    for stage in stages:
        chosen = "; ".join(n.text for n in stage.chosen) or "none"
        steps.append(f"{stage.title}: {chosen}.")
    return " ".join(steps)


# --- the five columns ----------------------------------------------------------------------


def _triage(output: Mapping[str, Any], kb: KnowledgeBase, trace: list[Mapping[str, Any]]) -> Stage:
    vocab = kb.vocabulary
    pathway = str(output.get("pathway") or "")
    also = {str(o.get("pathway")) for o in output.get("other_pathways") or []}
    fired = _fired(trace, "triage")
    nodes = []
    for pid in vocab.ids("pathway"):
        rules = [t for t in fired if f"pathway {pid}" in str(t.get("effect", ""))]
        detail = "; ".join(f"rule {t.get('rule')}: {t.get('title')}" for t in rules)
        nodes.append(Node(pid, vocab.label("pathway", pid), pid == pathway, detail, pid in also))
    return Stage("Triage pathway", tuple(nodes))


def _variants(
    output: Mapping[str, Any], kb: KnowledgeBase, trace: list[Mapping[str, Any]]
) -> Stage:
    """The variants the variant rules can choose for this pathway, in rule order."""
    pathway = str(output.get("pathway") or "")
    acr = output.get("acr")
    chosen = str(acr.get("key")) if isinstance(acr, Mapping) else NO_VARIANT
    keys = [
        r.rule.then.acr
        for r in kb.rules.get("variants", [])
        if r.rule.then.acr and _mentions(r.rule.when, "pathway", pathway)
    ]
    if chosen not in keys:
        keys.append(chosen)
    fired = _fired(trace, "variants")
    nodes = []
    for key in dict.fromkeys(keys):
        rules = [t for t in fired if str(t.get("effect", "")).endswith(key)]
        detail = "; ".join(f"rule {t.get('rule')}: {t.get('title')}" for t in rules)
        label, sub = _variant_label(key, kb)
        nodes.append(Node(key, label, key == chosen, detail, sub=sub))
    return Stage("ACR variant", tuple(nodes))


def _imaging(output: Mapping[str, Any]) -> Stage:
    """The studies to order now, then the other usually appropriate ones as alternatives."""
    chosen = [str(p) for p in output.get("next_imaging") or []]
    nodes = [Node(p, f"{i}. {p}", True) for i, p in enumerate(chosen, 1)]
    if not chosen:
        nodes.append(Node(NO_IMAGING, "No imaging needed now", True))
    acr = output.get("acr")
    ratings = (acr.get("ratings") or []) if isinstance(acr, Mapping) else []
    for rating in ratings:
        name = str(rating.get("procedure"))
        if rating.get("category") == APPROPRIATE and name not in chosen:
            nodes.append(Node(name, name, False, "also usually appropriate"))
    return Stage("Next imaging", tuple(nodes))


def _results(kb: KnowledgeBase, trace: list[Mapping[str, Any]], imaging_due: bool) -> Stage:
    fired = {str(t.get("rule")) for t in _fired(trace, "results")}
    waiting = Node(PENDING, "Awaiting the results", imaging_due and not fired)
    nodes = [
        Node(r.id, r.rule.title, r.id in fired, f"rule {r.id}") for r in kb.rules.get("results", [])
    ]
    return Stage("Results", (waiting, *nodes))


def _plan(output: Mapping[str, Any]) -> Stage:
    steps = [p for p in output.get("plan") or [] if isinstance(p, Mapping)]
    nodes = []
    for phase, title in PHASES:
        titles = [str(p.get("title")) for p in steps if p.get("phase") == phase]
        label = f"{title} ({len(titles)})" if titles else title
        nodes.append(Node(phase, label, bool(titles), "; ".join(titles)))
    return Stage("Plan", tuple(nodes))


def _fired(trace: Iterable[Mapping[str, Any]], family: str) -> list[Mapping[str, Any]]:
    return [t for t in trace if t.get("family") == family]


def _mentions(condition: Any, fact: str, value: str) -> bool:
    """Does a rule condition test ``fact`` for ``value`` anywhere in its tree?"""
    if isinstance(condition, Mapping):
        if condition.get("fact") == fact:
            return condition.get("eq") == value or value in (condition.get("in") or [])
        return any(_mentions(v, fact, value) for v in condition.values())
    if isinstance(condition, list):
        return any(_mentions(v, fact, value) for v in condition)
    return False


def _variant_label(key: str, kb: KnowledgeBase) -> tuple[str, str]:
    """(topic, "variant N") so the number stays readable when the topic is shortened."""
    if key == NO_VARIANT or key not in kb.variants:
        return "No ACR variant applies", ""
    topic, variant = kb.variants[key]
    number = f"variant {variant.number}" if variant.number is not None else key
    return topic.topic, number


# --- drawing -------------------------------------------------------------------------------


def _layout(stages: Sequence[Stage]) -> dict[tuple[int, str], Box]:
    """Each column's nodes stacked from the top, each as tall as its lines need."""
    boxes: dict[tuple[int, str], Box] = {}
    for i, stage in enumerate(stages):
        x, y = i * COLUMN_WIDTH + (COLUMN_WIDTH - NODE_WIDTH) // 2, TOP
        for node in stage.nodes:
            boxes[(i, node.key)] = (x, y, node.height)
            y += node.height + GAP
    return boxes


def _headers(stages: Sequence[Stage]) -> list[str]:
    return [
        f'<text x="{i * COLUMN_WIDTH + COLUMN_WIDTH // 2}" y="24" text-anchor="middle" '
        f'class="dp-head">{i + 1}. {escape(s.title)}</text>'
        for i, s in enumerate(stages)
    ]


def _node(node: Node, x: int, y: int, height: int) -> str:
    classes = "dp-node dp-on" if node.on_path else "dp-node"
    if node.also:
        classes += " dp-also"
    full = node.text + (f" - {node.detail}" if node.detail else "")
    if node.on_path:
        full = f"This case: {full}"
    elif node.also:
        full = f"Also met: {full}"
    text = "".join(
        f'<tspan x="{x + PADDING}" y="{y + PADDING + 11 + k * LINE_HEIGHT}">{escape(line)}</tspan>'
        for k, line in enumerate(node.lines())
    )
    return (
        f'<g class="{classes}"><title>{escape(full)}</title>'
        f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{height}" rx="6"/>'
        f"<text>{text}</text></g>"
    )


def _edges(stages: Sequence[Stage], positions: Mapping[tuple[int, str], Box]) -> list[str]:
    """Arrows between this case's choices in neighbouring columns."""
    edges = []
    for i in range(len(stages) - 1):
        for a in stages[i].chosen:
            for b in stages[i + 1].chosen:
                x1, y1, h1 = positions[(i, a.key)]
                x2, y2, h2 = positions[(i + 1, b.key)]
                edges.append(
                    f'<line class="dp-edge" x1="{x1 + NODE_WIDTH}" y1="{y1 + h1 // 2}" '
                    f'x2="{x2 - 2}" y2="{y2 + h2 // 2}" marker-end="url(#dp-arrow)"/>'
                )
    return edges
