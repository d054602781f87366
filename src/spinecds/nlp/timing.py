"""How long ago something happened, from the words a note uses and the date of reading.

"ACDF 2019" read on 2026-11-21 was 7 years ago; "2 yrs post-op" is 2 years; "POD 10" is
10 days (1.4 weeks); "in March 2024" is 32 months; "3 weeks ago" is 3 weeks. The unit the
text uses is kept (years_ago, months_ago or weeks_ago), as in the case format; days become
weeks. A date after the reading date is not a past event and is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["TimeAgo", "find_times"]

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "eighteen": 18,
    "twenty": 20,
}
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_COUNT = r"(\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"
_UNIT = r"(days?|d|weeks?|wks?|w|months?|mos?|m|years?|yrs?|y)"
_AGO = re.compile(
    rf"\b{_COUNT}\s*-?\s*{_UNIT}\.?\s*(?:ago|prior|earlier|before(?!\s+(?:the|his|her|surgery)))\b",
    re.IGNORECASE,
)
_LONG_UNIT = r"(days?|weeks?|wks?|months?|mos?|years?|yrs?)"  # "58M s/p" is no time
_AFTER = re.compile(
    rf"\b{_COUNT}\s*-?\s*{_LONG_UNIT}\.?\s*"
    r"(?:post[\s-]?op(?:erative(?:ly)?)?|postop|out(?:\s+from)?|s/p|status\s+post|"
    r"after|following|since|from)\b",
    re.IGNORECASE,
)
_POD = re.compile(r"\b(?:POD|post[\s-]?op(?:erative)?\s+day)\s*#?\s*(\d{1,3})\b", re.IGNORECASE)
_LAST = re.compile(r"\blast\s+(week|month|year)\b", re.IGNORECASE)
_TODAY = re.compile(r"\b(today|yesterday|this morning)\b", re.IGNORECASE)
_ISO = re.compile(r"\b((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})\b")
_US = re.compile(r"\b(\d{1,2})/(\d{1,2})/((?:19|20)?\d{2})\b")
_MONTH_YEAR = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?,?\s+((?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_SLASH_MONTH = re.compile(r"(?<![\d/])(\d{1,2})/((?:19|20)\d{2})\b")
_YEAR = re.compile(r"(?<![\d/\-.])((?:19|20)\d{2})(?![\d/\-]|\.\d|\s*(?:mg|ml|units?)\b)")


@dataclass(frozen=True, slots=True)
class TimeAgo:
    start: int
    end: int
    unit: str  # weeks_ago, months_ago or years_ago
    amount: float
    words: str

    @property
    def relative_to_now(self) -> bool:
        """ "today", "yesterday": dates a study, but says nothing about an old operation."""
        return self.words.lower() in ("today", "yesterday", "this morning")


def find_times(text: str, today: date) -> list[TimeAgo]:
    """Every time expression in ``text``, in text order, without overlaps."""
    found: list[TimeAgo] = []
    for pattern, read in (
        (_POD, _pod),
        (_AFTER, _count),
        (_AGO, _count),
        (_LAST, _last),
        (_TODAY, _today),
        (_ISO, _iso),
        (_US, _us),
        (_MONTH_YEAR, _month_year),
        (_SLASH_MONTH, _slash_month),
        (_YEAR, _year),
    ):
        for match in pattern.finditer(text):
            if any(t.start < match.end() and match.start() < t.end for t in found):
                continue
            got = read(match, today)
            if got is not None:
                unit, amount = got
                found.append(TimeAgo(match.start(), match.end(), unit, amount, match.group()))
    return sorted(found, key=lambda t: t.start)


def _amount(word: str) -> float:
    return float(_NUMBER_WORDS.get(word.lower(), 0) or float(word))


def _count(match: re.Match[str], today: date) -> tuple[str, float] | None:
    del today
    amount = _amount(match.group(1))
    unit = match.group(2).lower()
    if unit.startswith("d"):
        return "weeks_ago", round(amount / 7, 1)
    if unit.startswith("w"):
        return "weeks_ago", amount
    if unit.startswith("m"):
        return "months_ago", amount
    return "years_ago", amount


def _pod(match: re.Match[str], today: date) -> tuple[str, float] | None:
    del today
    return "weeks_ago", round(int(match.group(1)) / 7, 1)


def _last(match: re.Match[str], today: date) -> tuple[str, float] | None:
    del today
    return f"{match.group(1).lower()}s_ago", 1.0


def _today(match: re.Match[str], today: date) -> tuple[str, float] | None:
    del today
    return "weeks_ago", 0.1 if match.group(1).lower() == "yesterday" else 0.0


def _since(day: date, today: date) -> tuple[str, float] | None:
    days = (today - day).days
    return None if days < 0 else ("weeks_ago", round(days / 7, 1))


def _iso(match: re.Match[str], today: date) -> tuple[str, float] | None:
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    return _since(day, today)


def _us(match: re.Match[str], today: date) -> tuple[str, float] | None:
    year = int(match.group(3))
    year += 2000 if year < 100 else 0
    try:
        day = date(year, int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None
    return _since(day, today)


def _months_between(year: int, month: int, today: date) -> tuple[str, float] | None:
    months = (today.year - year) * 12 + today.month - month
    return None if months < 0 else ("months_ago", float(months))


def _month_year(match: re.Match[str], today: date) -> tuple[str, float] | None:
    return _months_between(int(match.group(2)), _MONTHS[match.group(1).lower()], today)


def _slash_month(match: re.Match[str], today: date) -> tuple[str, float] | None:
    month = int(match.group(1))
    if not 1 <= month <= 12:
        return None
    return _months_between(int(match.group(2)), month, today)


def _year(match: re.Match[str], today: date) -> tuple[str, float] | None:
    year = int(match.group(1))
    if not 1950 <= year <= today.year:
        return None
    return "years_ago", float(today.year - year)
