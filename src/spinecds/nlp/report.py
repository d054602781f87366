"""Where each finding came from: the "FROM THE TEXT" section of a report, and extract's text.

For every field of the assessed case: its value and whether the case file or a text gave
it, with the exact words; then what the case file kept against the text, what was read but
left out (possible, hypothetical, someone else's, past), and what needs the clinician.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from spinecds.knowledge.vocabulary import Vocabulary
from spinecds.nlp.merge import Merged
from spinecds.nlp.model import Evidence, Extraction

__all__ = ["render_extraction", "render_sources"]

_WIDTH = 100


def render_sources(merged: Merged, extraction: Extraction, vocab: Vocabulary, fmt: str) -> str:
    """The provenance section for a report in ``fmt`` (text or markdown)."""
    lines = _sources_lines(merged, extraction, vocab)
    if fmt == "markdown":
        return "## From the text\n\n" + "\n".join(lines)
    return "FROM THE TEXT\n-------------\n\n" + "\n".join(lines)


def render_extraction(extraction: Extraction, vocab: Vocabulary) -> str:
    """``spinecds extract --format text``: the case fragment and every mention's evidence."""
    lines = [_header(extraction), "", "Case fragment (what the texts state):"]
    lines += [f"  {line}" for line in _case_lines(extraction.case, vocab)] or ["  (nothing)"]
    lines += ["", "Evidence (every mention, entered or not):"]
    for item in extraction.evidence:
        mark = "+" if item.entered else "-"
        lines += _wrap(
            f"{mark} {item.term} [{item.assertion}] {_value(item.value)} "
            f"-> {item.field or 'not entered'}: {item.note}",
            indent="  ",
        )
        lines += _wrap(_quote(item), indent="      ")
    lines += _unresolved_lines(extraction)
    return "\n".join(lines)


def _header(extraction: Extraction) -> str:
    names = ", ".join(s.name for s in extraction.sources)
    return (
        f"Read {len(extraction.sources)} text(s) ({names}) as of {extraction.today.isoformat()}; "
        f"text rules {extraction.rules_version}."
    )


def _sources_lines(merged: Merged, extraction: Extraction, vocab: Vocabulary) -> list[str]:
    lines = [_header(extraction), "", "Where each part of the assessed case came from:"]
    for path, label, value in _fields(merged.data, vocab):
        words = merged.from_text.get(path)
        if words is None:
            lines += _wrap(f"- {label}: {value} - case file", indent="")
        else:
            quoted = "; ".join(_quote(e) for e in _distinct(words)) or "(read from the texts)"
            lines += _wrap(f"- {label}: {value} - text: {quoted}", indent="", hang="  ")
    if merged.overrides:
        lines += ["", "Kept from the case file where the text says otherwise:"]
        for o in merged.overrides:
            quoted = "; ".join(_quote(e) for e in _distinct(o.evidence))
            lines += _wrap(
                f"- {o.field}: case file {o.case_value!r}; text {o.text_value!r} {quoted}",
                indent="",
                hang="  ",
            )
    left = [e for e in extraction.evidence if not e.entered and e.kind not in ("study",)]
    left = [e for e in left if e.assertion != "present" or e.value is None]
    if left:
        lines += ["", "Read but not entered:"]
        for item in left:
            lines += _wrap(f"- {item.term} ({item.note}): {_quote(item)}", indent="", hang="  ")
    return lines + _unresolved_lines(extraction)


def _unresolved_lines(extraction: Extraction) -> list[str]:
    if not extraction.unresolved:
        return []
    lines = ["", "To settle by hand:"]
    for u in extraction.unresolved:
        lines += _wrap(
            f"- {u.problem} Fix: {u.fix} ({u.source}: {u.words!r})", indent="", hang="  "
        )
    return lines


def _fields(case: Mapping[str, Any], vocab: Vocabulary) -> Iterable[tuple[str, str, str]]:
    """(path, label, value) for every field worth showing, in case-format order."""
    for name in ("age", "sex", "symptom_weeks", "course"):
        if case.get(name) is not None:
            yield name, name.replace("_", " "), str(case[name])
    for i, surgery in enumerate(case.get("surgeries") or []):
        yield f"surgeries[{i}]", "operation", _surgery(surgery, vocab)
    if case.get("complaint"):
        labels = ", ".join(vocab.label("complaint", c) for c in case["complaint"])
        yield "complaint", "complaint", labels
    for name, value in (case.get("findings") or {}).items():
        if value is not None:
            yield f"findings.{name}", vocab.label("finding", name), _value(value)
    for i, study in enumerate(case.get("imaging") or []):
        label = f"{vocab.label('study', study.get('study', ''))}, {study.get('region')}"
        yield f"imaging[{i}]", "study done", label
        for name, value in (study.get("findings") or {}).items():
            if value is not None:
                yield (
                    f"imaging[{i}].findings.{name}",
                    vocab.label("imaging_finding", name),
                    (_value(value)),
                )


def _case_lines(case: Mapping[str, Any], vocab: Vocabulary) -> list[str]:
    return [f"{path}: {value}" for path, _, value in _fields(case, vocab)]


def _surgery(surgery: Mapping[str, Any], vocab: Vocabulary) -> str:
    parts = [vocab.label("procedure", str(surgery.get("procedure")))]
    if surgery.get("levels"):
        parts.append(", ".join(surgery["levels"]))
    for unit in ("weeks_ago", "months_ago", "years_ago"):
        if surgery.get(unit) is not None:
            parts.append(f"{surgery[unit]} {unit.replace('_ago', '')} ago")
    return "; ".join(parts)


def _value(value: Any) -> str:
    if value is True:
        return "present"
    if value is False:
        return "absent"
    if value is None:
        return "unknown"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _quote(item: Evidence) -> str:
    where = item.source + (f", {item.section.replace('_', ' ')}" if item.section else "")
    return f'"{item.words}" in "{_short(item.sentence)}" ({where}, chars {item.start}-{item.end})'


def _short(sentence: str, most: int = 90) -> str:
    flat = " ".join(sentence.split())
    return flat if len(flat) <= most else flat[: most - 3] + "..."


def _distinct(items: Iterable[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, int, int]] = set()
    out = []
    for item in items:
        key = (item.source, item.start, item.end)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _wrap(text: str, indent: str, hang: str = "    ") -> list[str]:
    return textwrap.wrap(
        text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent + hang
    ) or [indent]
