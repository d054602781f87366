"""Age and sex, from the usual opening of a note: "58-year-old man", "58M", "58 yo F".

Only an age with a sex word beside it, or an explicit "Age:"/"Sex:" field, is read: a lone
number could be anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Demographic", "find_age_sex"]

_AGE_SEX = re.compile(
    r"(?<![\d.])(?P<age>\d{1,3})\s*(?:-|\s)?\s*"
    r"(?:(?:years?|yrs?|y)\s*(?:-|\s)?\s*(?:old|o\b|/o)|yo\b|y\.o\.?|y/o)?"
    r"\s*(?:-|,)?\s*(?P<sex>man|male|gentleman|gent|woman|female|lady|m|f)\b",
    re.IGNORECASE,
)
_AGE_ONLY = re.compile(
    r"(?<![\d.])(?P<age>\d{1,3})\s*(?:-|\s)?\s*(?:(?:years?|yrs?)\s*(?:-|\s)?\s*old|yo\b|y/o|y\.o\.)",
    re.IGNORECASE,
)
_FIELD = re.compile(
    r"\b(?:(?P<agekey>age)\s*[:=]\s*(?P<age>\d{1,3})|(?:sex|gender)\s*[:=]\s*(?P<sex>male|female|m|f)\b)",
    re.IGNORECASE,
)
_SEXES = {
    "man": "male",
    "male": "male",
    "gentleman": "male",
    "gent": "male",
    "m": "male",
    "woman": "female",
    "female": "female",
    "lady": "female",
    "f": "female",
}


@dataclass(frozen=True, slots=True)
class Demographic:
    field: str  # "age" or "sex"
    value: float | str
    start: int
    end: int
    words: str


def find_age_sex(text: str) -> list[Demographic]:
    """The first age and the first sex the text states about the patient."""
    found: dict[str, Demographic] = {}
    for match in _FIELD.finditer(text):
        if match.group("agekey"):
            _add(found, "age", match, "age")
        elif match.group("sex"):
            _add(found, "sex", match, "sex")
    for match in _AGE_SEX.finditer(text):
        sex = match.group("sex")
        if len(sex) == 1 and sex != sex.upper():
            continue  # "58 m" is more likely metres than male
        _add(found, "age", match, "age")
        _add(found, "sex", match, "sex")
    for match in _AGE_ONLY.finditer(text):
        _add(found, "age", match, "age")
    return sorted(found.values(), key=lambda d: d.field)


def _add(found: dict[str, Demographic], field: str, match: re.Match[str], group: str) -> None:
    if field in found:
        return
    raw = match.group(group)
    if field == "age":
        age = int(raw)
        if not 0 < age <= 120:
            return
        found["age"] = Demographic("age", age, match.start(), match.end(), match.group())
    else:
        found["sex"] = Demographic(
            "sex", _SEXES[raw.lower()], match.start(), match.end(), match.group()
        )
