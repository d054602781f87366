"""Numbers in notes: laboratory values against their reference range, and MRC grades.

``ESR 48 (0-20)`` is elevated because 48 is above the range the text gives; ``WBC 13.4 H``
because the laboratory flagged it. A value with neither a range nor a flag is not judged:
we hold no sourced reference range, and ranges differ between laboratories and units.
``4/5 grip`` is MRC grade 4; ``4+/5`` and ``4-/5`` are grade 4 too (the case takes the whole
grade); across a note the weakest muscle wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spinecds.nlp.rules import LabRules, LabWords

__all__ = ["LabReading", "lab_value_regex", "mrc_grade", "read_lab"]

_NUMBER = r"\d+(?:\.\d+)?"
# words allowed between a test's name and its value: "ESR was 48", "CRP level of 3.2"
_JOINERS = (
    r"(?:\s*(?:[:=]|-|was|is|were|are|of|at|level|levels|value|result|now|today|"
    r"measured|returned|came back|remains|remained)\s*|\s+)*"
)
_RANGE = re.compile(
    r"""^\s*,?\s*[(\[]?\s*
    (?:ref(?:erence)?\.?(?:\s*range)?|normal(?:\s*range)?|nl|n|range|rr|ref\s*range)?\s*[:=]?\s*
    (?:
      (?P<low>\d+(?:\.\d+)?)\s*(?:-|\u2013|to)\s*(?P<high>\d+(?:\.\d+)?)
      |
      (?:<|≤|<=|less\s+than|under|up\s+to|below)\s*(?P<below>\d+(?:\.\d+)?)
    )
    \s*(?:[a-zA-Zµ/^0-9*.\s]{0,12}?)?\s*[)\]]?""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class LabReading:
    value: float
    elevated: bool | None  # None: not judged (no range, no flag)
    how: str  # why: "48 > upper limit 20", "flagged high", "no reference range given"
    end: int  # character offset where the reading (range or flag included) ends


def lab_value_regex(lab: LabRules) -> str:
    """A regular expression for "<name> [joiners] <value> [unit]" of one test."""
    names = "|".join(re.escape(n) for n in sorted(lab.names, key=len, reverse=True))
    units = "|".join(re.escape(u) for u in sorted(lab.units, key=len, reverse=True))
    unit_part = rf"(?:\s*(?:{units})(?![A-Za-z]))?" if units else ""
    return (
        rf"(?<![A-Za-z])(?:{names})(?![A-Za-z]){_JOINERS}(?<![\d.])({_NUMBER})(?![\d/]){unit_part}"
    )


def read_lab(text: str, start: int, end: int, flags: LabWords) -> LabReading | None:
    """Judge the lab value matched at ``text[start:end]`` with the range or flag after it."""
    found = re.search(_NUMBER, text[start:end])  # names hold no digits; units come after
    if found is None:
        return None
    value = float(found.group())
    tail = text[end : end + 60].split("\n", 1)[0]
    flag, flag_end = _flag(tail, flags)
    ranged = _RANGE.match(tail)
    if ranged and (ranged.group("high") or ranged.group("below")):
        upper = float(ranged.group("high") or ranged.group("below"))
        reach = ranged.end()
        if flag is None:  # a flag may also follow the range: "48 (0-20) H"
            flag, later = _flag(tail[reach:], flags)
            reach += later if flag else 0
        elevated = value > upper
        how = f"{value:g} {'>' if elevated else '<='} upper limit {upper:g} given in the text"
        return LabReading(value, elevated, how, end + reach)
    if flag is not None:
        return LabReading(value, flag == "high", f"flagged {flag}", end + flag_end)
    return LabReading(value, None, "no reference range or flag in the text: not judged", end)


def _flag(tail: str, flags: LabWords) -> tuple[str | None, int]:
    for name, words in (("high", flags.high), ("normal", flags.normal), ("low", flags.low)):
        for word in sorted(words, key=len, reverse=True):
            found = re.match(
                rf"^\s*,?\s*[(\[]?\s*{re.escape(word)}\s*[)\]]?(?![A-Za-z])",
                tail,
                0 if len(word) <= 2 else re.IGNORECASE,
            )
            if found:
                return name, found.end()
    return None, 0


_MRC = re.compile(r"([0-5])\s*([+-])?\s*(?:/\s*5|out of 5|of 5)?")


def mrc_grade(words: str) -> int | None:
    """The MRC grade in "4+/5", "MRC grade 3", "strength 4 out of 5" (None if none)."""
    found = [int(m.group(1)) for m in _MRC.finditer(words)]
    grades = [g for g in found if 0 <= g <= 5]
    if not grades:
        return None
    return grades[0] if "/" in words or "of 5" in words else grades[-1]
