"""A pasted note on the case form: what it fills, and the note with every mention marked.

:func:`spinecds.nlp.extract` reads the note; this module turns its reading into what the
page shows:

* the case: the note's fragment merged under what the form already held. The clinician's
  entries win, field by field, as in ``spinecds assess --text``: a finding the form
  already answers keeps the form's answer, an operation or study the form already lists
  keeps the form's row (a study's unanswered findings are still filled from the note);
* which form control each filled value went to, and the words that filled it, so the page
  can say "from the note: “denies fevers”" beside the control and link the two;
* the note cut into plain and marked segments, each mark carrying its assertion, so the
  template never builds HTML from the note: every piece of text is autoescaped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from spinecds.knowledge.vocabulary import Vocabulary
from spinecds.nlp.model import Assertion, Evidence, Extraction

__all__ = [
    "ASSERTION_TAGS",
    "Mention",
    "Merged",
    "NoteReading",
    "Segment",
    "control_of",
    "count_to_today",
    "merge_note",
    "note_reading",
]

# Top-level values the clinician types once; the note fills them only when the form is empty.
_SCALARS = ("age", "sex", "symptom_weeks", "course", "proposed_order")
_ROWS = {"surgeries": "procedure", "treatments": "treatment"}  # list -> the key that names a row
_ROW_PATH = re.compile(r"^(surgeries|imaging|treatments)\[(\d+)\](?:\.findings\.(\w+))?$")
_ROW_CONTROL = {"surgeries": "surgery", "imaging": "imaging", "treatments": "treatment"}
_ROW_TITLE = {"surgeries": "Operation", "imaging": "Study", "treatments": "Treatment"}
_TIME_UNITS = {"weeks_ago": 7.0, "months_ago": 30.4375, "years_ago": 365.25}  # days per unit


@dataclass(frozen=True, slots=True)
class AssertionTag:
    """How a mark reads without its colour: an icon and a word (colour is never the only cue)."""

    icon: str
    word: str
    meaning: str


ASSERTION_TAGS: dict[Assertion, AssertionTag] = {
    "present": AssertionTag("✓", "present", "stated as present: fills the form"),
    "negated": AssertionTag("✗", "absent", "denied or not found: fills the form as absent"),
    "possible": AssertionTag("?", "possible", "uncertain: left unknown"),
    "historical": AssertionTag(
        "↺", "past", "in the past or resolved: left unknown (a past operation is listed)"
    ),
    "hypothetical": AssertionTag("…", "if", "hypothetical or planned: left unknown"),
    "someone_else": AssertionTag("◇", "someone else", "about another person: left unknown"),
}


# --- merging the note's fragment under the form ----------------------------------------------


@dataclass(frozen=True)
class Merged:
    """The merged case, and for each value the note filled: its path in the merged case.

    Keys are paths in the note's fragment as the evidence names them (``findings.fever``,
    ``surgeries[0]``, ``imaging[0].findings.fracture``; a complaint is ``complaint.<id>``).
    """

    case: dict[str, Any]
    filled: dict[str, str]


def merge_note(form_case: Mapping[str, Any], fragment: Mapping[str, Any]) -> Merged:
    """``fragment`` (what the note says) under ``form_case`` (what the clinician entered)."""
    case = copy.deepcopy(dict(form_case))
    filled: dict[str, str] = {}
    for key in _SCALARS:
        if key in fragment and case.get(key) in (None, ""):
            case[key] = fragment[key]
            filled[key] = key
    complaints = case.setdefault("complaint", [])
    for complaint in fragment.get("complaint") or []:
        if complaint not in complaints:
            complaints.append(complaint)
            filled[f"complaint.{complaint}"] = f"complaint.{complaint}"
    findings = case.setdefault("findings", {})
    _merge_findings(findings, fragment.get("findings"), ("findings", "findings"), filled)
    for key, name in _ROWS.items():
        _merge_rows(case.setdefault(key, []), fragment.get(key), key, name, filled)
    _merge_imaging(case.setdefault("imaging", []), fragment.get("imaging"), filled)
    return Merged(case, filled)


def _merge_findings(
    target: dict[str, Any],
    source: Any,
    paths: tuple[str, str],
    filled: dict[str, str],
) -> None:
    """Fill the findings ``target`` does not answer; ``paths`` = (fragment, merged) prefixes."""
    src, dst = paths
    for name, value in (source or {}).items():
        if name not in target:
            target[name] = value
            filled[f"{src}.{name}"] = f"{dst}.{name}"


def _merge_rows(rows: list[Any], source: Any, key: str, name: str, filled: dict[str, str]) -> None:
    """Append the note's rows the form does not list (same procedure or treatment)."""
    listed = {row.get(name) for row in rows if isinstance(row, Mapping)}
    for j, row in enumerate(source or []):
        if row.get(name) in listed:
            continue
        rows.append(copy.deepcopy(row))
        filled[f"{key}[{j}]"] = f"{key}[{len(rows) - 1}]"


def _merge_imaging(rows: list[Any], source: Any, filled: dict[str, str]) -> None:
    """A study the form lists (same study and region) gets only its unanswered findings."""
    for j, study in enumerate(source or []):
        match = _same_study(rows, study)
        if match is None:
            rows.append({**copy.deepcopy(study), "findings": {}})
            match = len(rows) - 1
            filled[f"imaging[{j}]"] = f"imaging[{match}]"
        found = rows[match].setdefault("findings", {})
        paths = (f"imaging[{j}].findings", f"imaging[{match}].findings")
        _merge_findings(found, study.get("findings"), paths, filled)


def _same_study(rows: Sequence[Any], study: Mapping[str, Any]) -> int | None:
    key = (study.get("study"), study.get("region"))
    for k, row in enumerate(rows):
        if isinstance(row, Mapping) and (row.get("study"), row.get("region")) == key:
            return k
    return None


def control_of(path: str) -> str | None:
    """The form control (element id) a merged-case path was filled into."""
    if path in _SCALARS:
        return path
    if path.startswith("complaint."):
        return "complaint-" + path.removeprefix("complaint.")
    if path.startswith("findings."):
        return "finding-" + path.removeprefix("findings.")
    match = _ROW_PATH.match(path)
    if match is None:
        return None
    row = f"{_ROW_CONTROL[match.group(1)]}-{match.group(2)}"
    return f"{row}-finding-{match.group(3)}" if match.group(3) else row


def count_to_today(fragment: Mapping[str, Any], written_on: date, today: date) -> dict[str, Any]:
    """The fragment with times since operations and studies counted to today, not the note.

    The reader counts "s/p ACDF 2019" back from the day the note was written; a note
    written a year ago about "2 years post-op" describes an operation 3 years ago today.
    """
    days = (today - written_on).days
    shifted = copy.deepcopy(dict(fragment))
    if days <= 0:
        return shifted
    for key in ("surgeries", "imaging"):
        for row in shifted.get(key) or []:
            for unit, unit_days in _TIME_UNITS.items():
                if isinstance(row.get(unit), int | float):
                    row[unit] = _tidy(row[unit] + days / unit_days)
    return shifted


def _tidy(value: float) -> float | int:
    rounded = round(value, 1)
    return int(rounded) if rounded.is_integer() else rounded


# --- the note, marked -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mention:
    """One mention as the page shows it: its words, what it is about, and what became of it."""

    id: str  # the element id of its tag: "from the note" links point here
    words: str
    label: str  # what it is about: "Fever", "Anterior cervical discectomy and fusion"
    assertion: Assertion
    control: str | None  # the form control it filled, if it filled one
    outcome: str  # what became of it, in words

    @property
    def tag(self) -> AssertionTag:
        return ASSERTION_TAGS[self.assertion]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the note: plain, or marked with the mention(s) whose words it is."""

    text: str
    mentions: tuple[Mention, ...] = ()


@dataclass(frozen=True)
class NoteReading:
    text: str
    written_on: date
    segments: tuple[Segment, ...]
    mentions: tuple[Mention, ...]
    filled: frozenset[str]  # every control the note filled
    sources: Mapping[str, tuple[Mention, ...]]  # control -> the mentions that filled it
    unresolved: tuple[tuple[str, str], ...]  # (words, what to do)
    days_before_today: int

    def from_note(self, control: str) -> tuple[Mention, ...]:
        return self.sources.get(control, ())


def note_reading(
    extraction: Extraction,
    merged: Merged,
    vocabulary: Vocabulary,
    today: date,
) -> NoteReading:
    """The page's view of one read note (the first and only text of ``extraction``)."""
    text = extraction.sources[0].text
    evidence = [
        e for e in extraction.evidence if e.text_index == 0 and 0 <= e.start < e.end <= len(text)
    ]
    mentions = [_mention(f"m-{i}", e, merged, vocabulary) for i, e in enumerate(evidence, start=1)]
    sources: dict[str, list[Mention]] = {}
    for mention in mentions:
        if mention.control is not None:
            sources.setdefault(mention.control, []).append(mention)
    filled = {c for path in merged.filled.values() if (c := control_of(path))}
    return NoteReading(
        text=text,
        written_on=extraction.today,
        segments=tuple(_segments(text, evidence, mentions)),
        mentions=tuple(mentions),
        filled=frozenset(filled),
        sources={k: tuple(v) for k, v in sources.items()},
        unresolved=tuple((u.words, f"{u.problem} {u.fix}".strip()) for u in extraction.unresolved),
        days_before_today=max(0, (today - extraction.today).days),
    )


def _mention(mention_id: str, e: Evidence, merged: Merged, vocab: Vocabulary) -> Mention:
    label = e.kind.capitalize() if e.kind in ("age", "sex") else vocab.label(e.kind, e.term)
    path = merged.filled.get(_fragment_path(e)) if e.entered and e.field else None
    control = control_of(path) if path else None
    if path is not None and control is not None:
        outcome = _filled_words(path, label, merged.case)
    elif e.entered:
        outcome = "Not used: the form already held a value for it."
    else:
        outcome = (e.note or "Not entered.").capitalize()
    return Mention(mention_id, e.words, label, e.assertion, control, outcome)


def _fragment_path(e: Evidence) -> str:
    # Every complaint mention names the one list; the page ticks one box per complaint.
    return f"complaint.{e.term}" if e.field == "complaint" else str(e.field)


def _filled_words(path: str, label: str, case: Mapping[str, Any]) -> str:
    """ "Filled Fever: absent", "Filled Operation 1", "Ticked complaint Neck pain"."""
    if path.startswith("complaint."):
        return f"Ticked the complaint {label}."
    match = _ROW_PATH.match(path)
    if match is not None and match.group(3) is None:
        return f"Filled {_ROW_TITLE[match.group(1)]} {int(match.group(2)) + 1}: {label}."
    value = _value_at(case, path)
    words = {True: "present", False: "absent"}.get(value) if isinstance(value, bool) else None
    return f"Filled {label}: {words or _plain(value)}."


def _value_at(case: Mapping[str, Any], path: str) -> Any:
    match = _ROW_PATH.match(path)
    if match is not None:
        row = case[match.group(1)][int(match.group(2))]
        return row["findings"][match.group(3)]
    if path.startswith("findings."):
        return case["findings"][path.removeprefix("findings.")]
    return case[path]


def _plain(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _segments(
    text: str, evidence: Sequence[Evidence], mentions: Sequence[Mention]
) -> Iterable[Segment]:
    """Plain and marked stretches, in order; overlapping mentions share one mark.

    ("58 year old man" is both the age and the sex: one mark, two tags.)
    """
    position = 0
    for start, end, group in _clusters(evidence, mentions):
        if start > position:
            yield Segment(text[position:start])
        yield Segment(text[start:end], tuple(group))
        position = end
    if position < len(text):
        yield Segment(text[position:])


def _clusters(
    evidence: Sequence[Evidence], mentions: Sequence[Mention]
) -> Iterable[tuple[int, int, list[Mention]]]:
    ordered = sorted(zip(evidence, mentions, strict=True), key=lambda p: (p[0].start, p[0].end))
    start = end = -1
    group: list[Mention] = []
    for e, mention in ordered:
        if group and e.start < end:
            end = max(end, e.end)
            group.append(mention)
            continue
        if group:
            yield start, end, group
        start, end, group = e.start, e.end, [mention]
    if group:
        yield start, end, group
