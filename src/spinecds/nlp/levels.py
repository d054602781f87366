"""Spinal levels in free text, normalised to motion segments: C5-6, C5/6, C5-C6 -> C5-C6.

A span names every segment in it ("C4-C7" is C4-C5, C5-C6, C6-C7), a list may drop the
letter ("C5-6 and 6-7"), and a single vertebra names nothing unless the operation removes
a vertebra (a C5 corpectomy spans C4-C5 and C5-C6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LevelMention", "find_levels", "region_of", "regions_of", "segments_around"]

VERTEBRAE: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_INDEX = {v: i for i, v in enumerate(VERTEBRAE)}
_REGION = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "lumbar"}
_JOIN = r"\s*(?:-|–|/|to|through|thru)\s*"  # noqa: RUF001 - an en dash, as pasted notes have
_SPAN = re.compile(
    rf"(?<![A-Za-z0-9])([CTLS])\s?(\d{{1,2}}){_JOIN}([CTLS])?\s?(\d{{1,2}})((?:\s*-\s*\d{{1,2}})*)(?![\d])"
    r"(?!\s*-?\s*(?:weighted|hyper|hypo|signal|image|sequence|stir|flair))",
    re.IGNORECASE,
)
_MORE = re.compile(
    rf"\s*(?:,|and|&|,\s*and)\s*([CTLS])?\s?(\d{{1,2}}){_JOIN}([CTLS])?\s?(\d{{1,2}})(?![\d])",
    re.IGNORECASE,
)
_SINGLE = re.compile(r"(?<![A-Za-z0-9])([CTLS])(\d{1,2})(?![\d\-/–])", re.IGNORECASE)  # noqa: RUF001


@dataclass(frozen=True, slots=True)
class LevelMention:
    start: int
    end: int
    segments: tuple[str, ...]  # normalised: ("C5-C6", "C6-C7")
    single: str | None = None  # a lone vertebra ("C5"), which names no segment by itself


def regions_of(segment: str) -> set[str]:
    """Every region a segment touches: ``C7-T1`` -> cervical and thoracic."""
    return {_REGION[vertebra[0]] for vertebra in segment.split("-")}


def region_of(segment: str) -> str:
    """``C5-C6`` -> cervical; a junction (C7-T1) takes the region of its lower vertebra."""
    return _REGION[segment.split("-")[1][0]]


def find_levels(text: str) -> list[LevelMention]:
    """Every level expression in ``text`` with its normalised segments, in text order."""
    found: list[LevelMention] = []
    taken: list[tuple[int, int]] = []
    for match in _SPAN.finditer(text):
        if taken and match.start() < taken[-1][1]:
            continue  # already read as part of a list ("C5-6 and C6-7")
        letter, first, letter2, second, chain = match.groups()
        numbers = [first, second, *re.findall(r"\d{1,2}", chain or "")]
        segments = _chain(letter, numbers, letter2)
        end = match.end()
        while more := _MORE.match(text, end):
            l1, a, l2, b = more.groups()
            segments += _chain(l1 or letter, [a, b], l2)
            end = more.end()
        if segments:
            found.append(LevelMention(match.start(), end, tuple(dict.fromkeys(segments))))
            taken.append((match.start(), end))
    for match in _SINGLE.finditer(text):
        if any(a <= match.start() < b for a, b in taken):
            continue
        vertebra = f"{match.group(1).upper()}{int(match.group(2))}"
        if vertebra in _INDEX:
            found.append(LevelMention(match.start(), match.end(), (), vertebra))
    return sorted(found, key=lambda m: m.start)


def segments_around(vertebra: str) -> tuple[str, ...]:
    """The two segments touching a vertebra: C5 -> C4-C5, C5-C6."""
    i = _INDEX[vertebra]
    out = []
    if i > 0:
        out.append(f"{VERTEBRAE[i - 1]}-{vertebra}")
    if i + 1 < len(VERTEBRAE):
        out.append(f"{vertebra}-{VERTEBRAE[i + 1]}")
    return tuple(out)


def _chain(letter: str, numbers: list[str], letter2: str | None) -> list[str]:
    """Segments from the first vertebra to the last: C + [5, 7] -> C5-C6, C6-C7."""
    first = f"{letter.upper()}{int(numbers[0])}"
    last = f"{(letter2 or letter).upper()}{int(numbers[-1])}"
    if first not in _INDEX or last not in _INDEX:
        return []
    a, b = _INDEX[first], _INDEX[last]
    if b <= a:
        return []  # "C6-5" or one vertebra: not a segment we can name
    return [f"{VERTEBRAE[i]}-{VERTEBRAE[i + 1]}" for i in range(a, b)]
