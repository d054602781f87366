"""Where sentences start in a clinic note or report (character offsets), by rules.

ConText looks for modifiers only inside a sentence, so the cut matters most where it would
separate a negation from what it negates. Notes pasted from other systems are often
hard-wrapped: "denies fevers, chills\\nor night sweats" is one sentence, while "Fever: no\\n
Chills: yes" is two. The rules (``kb/nlp/sentences.yaml``):

* a blank line always ends a sentence;
* a single line break goes on when the line ends with a comma or a word from
  ``continues_after``; it ends a sentence when the line ends a clause (``.:;!?``) or the
  next line starts a list item or a section title; otherwise it goes on when the next line
  starts in lower case or the line is long (wrapped prose), and ends one after a short line
  (a list line, a title);
* ``.``, ``!`` and ``?`` end one when followed by a space and a capital, digit or bullet,
  except after an abbreviation (``Dr.``, ``pt.``, ``R.``), a list number at the start of a
  line (``1.``), or a question answered on the same line ("Fever? No").

This is our own small splitter rather than PyRuSH: PyRuSH's rule engine (pure-Python
FastCNER) took about 85% of the pipeline's time; see bench/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["sentence_starts", "wrapped_line_breaks"]

SHORT_LINE = 45  # characters: shorter lines are list items or titles, not wrapped prose

_LINE_BREAKS = re.compile(r"[ \t]*\r?\n[\s]*")
_END_MARK = re.compile(r"([.!?])[\"')\]]*(\s+)(?=[\"'(\[]?[A-Z0-9\-•*#])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_NUMBER = re.compile(r"(?:^|\n)\s*\d{1,2}$")
_ANSWER = re.compile(r"(?:yes|no|none|denies|denied|negative|positive|y|n)\b", re.IGNORECASE)
_CLAUSE_END = ".:;!?"
_LIST_START = re.compile(r"(?:[-*•]|\d{1,2}[.)]|[A-Za-z][A-Za-z /&()-]{0,30}:)(?:\s|$)")


def sentence_starts(
    text: str, abbreviations: Collection[str], continues_after: Collection[str]
) -> list[int]:
    """Sorted character offsets at which a sentence starts (always including the first)."""
    abbreviations = {a.lower().rstrip(".") for a in abbreviations}
    continues = {c.lower() for c in continues_after}
    starts = {_first_visible(text, 0)}
    for match in _LINE_BREAKS.finditer(text):
        after = match.end()
        if after >= len(text):
            continue
        if match.group().count("\n") > 1 or not _line_goes_on(
            text, match.start(), after, continues
        ):
            starts.add(after)
    for match in _END_MARK.finditer(text):
        mark_at = match.start(1)
        after = match.end()
        if "\n" in match.group(2):
            continue  # the line-break rule decides
        if _not_an_end(text, mark_at, after, abbreviations):
            continue
        starts.add(after)
    return sorted(s for s in starts if s < len(text))


def _first_visible(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def wrapped_line_breaks(text: str, continues_after: Collection[str]) -> list[tuple[int, int]]:
    """The line breaks inside a sentence (a wrapped line), as (start, end) offsets."""
    continues = {c.lower() for c in continues_after}
    return [
        (m.start(), m.end())
        for m in _LINE_BREAKS.finditer(text)
        if m.end() < len(text)
        and m.group().count("\n") == 1
        and _line_goes_on(text, m.start(), m.end(), continues)
    ]


def _line_goes_on(text: str, line_end: int, next_start: int, continues: set[str]) -> bool:
    line = text[text.rfind("\n", 0, line_end) + 1 : line_end].strip()
    if not line:
        return False
    if _LIST_START.match(text, next_start):
        return False
    if line[-1] == ",":
        return True
    word = re.search(r"([A-Za-z&/\-]+)$", line)
    if word and word.group(1).lower() in continues:
        return True
    if line[-1] in _CLAUSE_END:
        return False
    # "denies fevers, chills\nor night sweats": a line going on in lower case is wrapped
    return text[next_start].islower() or len(line) >= SHORT_LINE


def _not_an_end(text: str, mark_at: int, after: int, abbreviations: set[str]) -> bool:
    mark = text[mark_at]
    before = text[:mark_at]
    if mark == ".":
        word = _WORD_BEFORE.search(before)
        if word and word.group(1).lower().rstrip(".") in abbreviations:
            return True
        if _LIST_NUMBER.search(before):
            return True
    if mark == "?" and _ANSWER.match(text, after):
        return True
    return False
