"""The small phrase language of the rule files, compiled to spaCy token patterns.

A clinician writes ``pain radiat* to|into ... shoulder blade`` rather than a list of token
dictionaries. Words are separated by spaces; each word is one of:

=============  ==============================================================================
``word``       the word in any case, singular or plural (``blade`` also matches ``blades``)
``a|b|c``      any of the alternatives (each with its plural)
``stem*``      any word starting with ``stem`` (``radiat*``: radiates, radiating, radiation)
``word?``      the word may be missing (``the?``); combines with the forms above
``word!``      the word exactly as written, without plural or singular (``falls!``)
``=WORD``      exactly this spelling, case included (``=MR`` but not ``Mr``)
``#``          a number
``;`` ``?``    a word of punctuation only is taken literally (``?`` is a question mark)
``...``        up to 3 other words (``...5``: up to 5), never crossing a negation word, a
               conjunction such as *but*, or the end of a clause (``. ; :``)
=============  ==============================================================================

A word holding punctuation (``s/p``, ``c-spine``) is split the way the tokenizer splits it,
so ``x-ray`` matches the three tokens ``x - ray``. This module does not import spaCy: the
tokenizer is passed in, so ``spinecds kb check`` can check the syntax without loading it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "GAP_STOP_WORDS",
    "PhraseError",
    "check_phrase",
    "compile_phrase",
    "inflections",
    "literal_forms",
]

TokenPattern = dict[str, Any]
Splitter = Callable[[str], Sequence[str]]

# A gap never swallows these: a negation inside a target span would hide it from ConText.
GAP_STOP_WORDS = (
    ".",
    ";",
    ":",
    ",",  # a comma separates list items: "bladder problems, gait change" is two findings
    "!",
    "?",
    "\n",
    "no",
    "not",
    "without",
    "denies",
    "denied",
    "negative",
    "but",
    "however",
    "although",
    "except",
    "nor",
    "never",
    "gadolinium",  # "reaction to gadolinium contrast" is no iodinated-contrast allergy
    "gad",
    "tingling",  # "neck pain with tingling down the arm" is no radicular pain
    "numbness",
)
_GAP = re.compile(r"^\.\.\.(\d{0,2})$")
_WORD = re.compile(r"^[^\s|?*=#]+$")


class PhraseError(ValueError):
    """A phrase breaks the phrase language; the message says how."""


def inflections(word: str) -> list[str]:
    """The word and its plural, or for a plural its singular: ``screw`` -> screws."""
    forms = [word]
    if not word.isalpha() or len(word) <= 2:
        return forms
    if word.endswith("s") and not word.endswith("ss") and len(word) > 4:
        forms.append(word[:-1])  # a plural: "changes" also matches "change"
        if word.endswith("ies"):
            forms.append(word[:-3] + "y")
    elif word.endswith(("s", "x", "z", "ch", "sh")):
        forms.append(word + "es")
    elif word.endswith("y") and word[-2] not in "aeiou":
        forms.append(word[:-1] + "ies")
    else:
        forms.append(word + "s")
    return forms


def check_phrase(phrase: str) -> None:
    """Raise :class:`PhraseError` when ``phrase`` breaks the phrase language."""
    words = phrase.split()
    if not words:
        raise PhraseError("is empty.")
    if _GAP.match(words[0]) or _GAP.match(words[-1]):
        raise PhraseError("starts or ends with a gap (...).")
    if all(_optional(w) or _GAP.match(w) for w in words):
        raise PhraseError("has only optional words: it would match nothing or everything.")
    for word in words:
        if _GAP.match(word) or word == "#" or _punctuation(word):
            continue
        body = word[:-1] if _optional(word) else word
        body = body[1:] if body.startswith("=") else body
        body = body[:-1] if body.endswith("!") and len(body) > 1 else body
        if _optional(word) and not body.replace("'", "").replace("|", "").isalnum():
            raise PhraseError(f"has an optional word {word!r} holding punctuation.")
        alternatives = body.split("|")
        for alternative in alternatives:
            stem = alternative[:-1] if alternative.endswith("*") else alternative
            if not stem or not _WORD.match(stem):
                raise PhraseError(f"has a malformed word {word!r}.")
            if len(alternatives) > 1 and not stem.replace("'", "").isalnum():
                raise PhraseError(
                    f"has punctuation inside the choice {word!r}; write that one as its own phrase."
                )


def compile_phrase(phrase: str, split: Splitter) -> list[TokenPattern]:
    """The spaCy Matcher pattern for ``phrase`` (see the module docstring for the language)."""
    check_phrase(phrase)
    pattern: list[TokenPattern] = []
    for word in phrase.split():
        gap = _GAP.match(word)
        if gap:
            most = int(gap.group(1) or 3)
            pattern.append(
                {
                    "LOWER": {"NOT_IN": list(GAP_STOP_WORDS)},
                    "IS_SPACE": False,
                    "OP": f"{{0,{most}}}",
                }
            )
            continue
        if word == "#":
            pattern.append({"LIKE_NUM": True})
            continue
        if _punctuation(word):
            if word.endswith("?") and len(word) > 1:  # ",?" an optional comma
                pattern.append({"ORTH": word[:-1], "OP": "?"})
            else:
                pattern.extend({"ORTH": piece} for piece in split(word))
            continue
        optional = _optional(word)
        body = word[:-1] if optional else word
        tokens = _word_tokens(body, split)
        if optional:
            if len(tokens) != 1:
                raise PhraseError(f"optional word {word!r} must be a single token.")
            tokens[0]["OP"] = "?"
        pattern.extend(tokens)
    return pattern


def literal_forms(phrase: str, split: Splitter, most: int = 300) -> list[str] | None:
    """Every spelling of a phrase made of plain words, choices and optional words, or None.

    spaCy's PhraseMatcher finds literal phrases by hashing, far faster than its Matcher
    checks token predicates, so phrases without gaps, prefixes, numbers or exact case are
    expanded (``neck|cervical pain`` -> neck pain, necks pain, cervical pain, ...) and given
    to it. ``None`` when the phrase needs the Matcher or would expand past ``most`` forms.
    """
    check_phrase(phrase)
    forms: list[list[str]] = [[]]
    for word in phrase.split():
        if _GAP.match(word) or word == "#" or word.startswith("=") or "*" in word:
            return None
        if _punctuation(word):
            if word.endswith("?") and len(word) > 1:
                forms = [[*f, word[:-1]] for f in forms] + forms
            else:
                forms = [f + list(split(word)) for f in forms]
            continue
        optional = _optional(word)
        body = word[:-1] if optional else word
        exact = body.endswith("!") and len(body) > 1
        choices = (body[:-1] if exact else body).lower().split("|")
        if len(choices) == 1 and len(split(choices[0])) > 1:
            spelled = [list(split(choices[0]))]
        else:
            spelled = [[f] for c in choices for f in ([c] if exact else inflections(c))]
        forms = [f + s for f in forms for s in spelled] + (forms if optional else [])
        if len(forms) > most:
            return None
    return [" ".join(f) for f in forms if f]


def _punctuation(word: str) -> bool:
    return not any(c.isalnum() for c in word)


def _optional(word: str) -> bool:
    return word.endswith("?") and not _punctuation(word[:-1])


def _word_tokens(body: str, split: Splitter) -> list[TokenPattern]:
    if body == "#":
        return [{"LIKE_NUM": True}]
    if body.endswith("!") and len(body) > 1:
        return [{"LOWER": {"IN": body[:-1].lower().split("|")}}]
    if body.startswith("="):
        return [{"ORTH": piece} for piece in split(body[1:])]
    alternatives = body.split("|")
    if len(alternatives) == 1 and not body.endswith("*"):
        pieces = list(split(body.lower()))
        if len(pieces) > 1:  # punctuation inside: match the pieces exactly, in order
            return [{"LOWER": piece} for piece in pieces]
    prefixes = [a[:-1].lower() for a in alternatives if a.endswith("*")]
    words = [a.lower() for a in alternatives if not a.endswith("*")]
    for word in words:
        if len(split(word)) > 1:
            raise PhraseError(
                f"alternative {word!r} holds punctuation; write it as its own phrase."
            )
    forms = sorted({form for word in words for form in inflections(word)})
    if prefixes and not forms:
        return [{"LOWER": {"REGEX": "^(?:" + "|".join(map(re.escape, prefixes)) + ")"}}]
    if prefixes:
        regex = "^(?:" + "|".join([*map(re.escape, prefixes), *(re.escape(f) + "$" for f in forms)])
        return [{"LOWER": {"REGEX": regex + ")"}}]
    return [{"LOWER": {"IN": forms}}]
