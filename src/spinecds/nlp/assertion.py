"""From ConText modifiers and the section to an assertion, and from the assertion to a value.

Precedence, strongest first: about someone else, hypothetical, possible, negated, historical,
present. So "no family history of cancer" is about someone else, "if fever develops" is
hypothetical, "cannot exclude infection" is possible, "no history of cancer" is negated.

Only present and negated mentions enter the case, as true and false. Possible,
hypothetical, someone else's and past mentions are left out (unknown), with two exceptions a
rule file must declare: a past history that is itself the finding ("history of breast
cancer" is cancer_history), and a suspicion that is itself the finding
(suspected_arterial_injury).
"""

from __future__ import annotations

from spinecds.nlp.medspacy_adapter import RawMention
from spinecds.nlp.model import Assertion
from spinecds.nlp.rules import SectionRules, TermRules

__all__ = ["assertion_of", "note_for", "value_of"]


def assertion_of(mention: RawMention, section: SectionRules | None) -> Assertion:
    """The assertion of one mention, from its modifiers and the section it sits in."""
    categories = {m.category for m in mention.modifiers}
    told = section.assertion if section is not None else None
    if "someone_else" in categories or told == "someone_else":
        return "someone_else"
    # A study named in a plan is one to do; an operation there may be the past one
    # ("3 weeks after ACDF"), so operations need words of their own ("plan revision").
    planned = section is not None and section.role == "plan"
    if (
        "hypothetical" in categories
        or told == "hypothetical"
        or (planned and mention.kind == "study")
    ):
        return "hypothetical"
    if "possible" in categories:
        return "possible"
    if ("negated" in categories) != (not mention.present):  # "not afebrile" is a fever
        return "negated"
    if "historical" in categories or told == "historical":
        return "historical"
    return "present"


def value_of(assertion: Assertion, rules: TermRules | None) -> bool | None:
    """What a finding mention says for the case: true, false, or nothing (None)."""
    if assertion == "present":
        return True
    if assertion == "negated":
        return False
    if assertion == "historical" and rules is not None and rules.history_counts:
        return True
    if assertion == "possible" and rules is not None and rules.possible_counts:
        return True
    return None


def note_for(assertion: Assertion, value: bool | float | None) -> str:
    """Why a mention did or did not enter the case, in words for the clinician."""
    if assertion == "historical" and value is True:
        return "a past history counts as present for this finding"
    if assertion == "possible" and value is True:
        return "a suspicion is itself this finding"
    return {
        "present": "stated as present",
        "negated": "denied or absent: entered as absent",
        "possible": "uncertain (possible, suspected): left out as unknown",
        "historical": "in the past: left out as unknown now",
        "hypothetical": "hypothetical, planned or conditional: left out",
        "someone_else": "about someone other than the patient: left out",
    }[assertion]
