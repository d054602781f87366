"""Questions: the unknown findings that would change this assessment, most decisive first.

They come from rules whose condition is UNKNOWN (not true, not false) and whose effect would
change the answer; each unknown leaf of such a condition becomes one question. Unknown is never
read as absent, so these are asked rather than assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from spinecds.assessment import Question, builder
from spinecds.engine.conditions import FALSE, TRUE, Condition, Leaf
from spinecds.engine.run import Run
from spinecds.engine.walks import compile_unknown_walk
from spinecds.knowledge.loader import CompiledCondition, KnowledgeBase
from spinecds.knowledge.vocabulary import Vocabulary

__all__ = ["ASKING", "compile_asking", "derived_sources", "questions"]

# The families whose unknown rules the stages turn into question sources (Run.ask).
ASKING = ("triage", "variants", "imaging", "imaging_adjust")

Test = Callable[[Mapping[str, Any]], float]

# Facts the case gives directly: where to put the answer and how to ask for it.
_FACT_FIELDS = {
    "episode": ("symptom_weeks", "How many weeks has this episode of pain lasted?"),
    "presentation": (
        "symptom_weeks",
        "How many weeks has this episode lasted, and is it getting worse?",
    ),
    "symptom_weeks": ("symptom_weeks", "How many weeks has this episode of pain lasted?"),
    "phase": ("surgeries[].weeks_ago", "How long ago was the operation?"),
    "weeks_since_surgery": ("surgeries[].weeks_ago", "How long ago was the operation?"),
    "age": ("age", "How old is the patient?"),
    "motor_grade": ("findings.motor_grade", "What is the MRC grade (0-5) of the weakest muscle?"),
    "course": ("course", "Is the pain new, increasing, stable or improving?"),
    "multilevel": ("surgeries[].levels", "Which levels were operated on?"),
}


Source = tuple[CompiledCondition, str, str, int]


def questions(run: Run) -> list[Question]:
    values, prep = run.values, run.prepared
    sources: list[Source] = list(run.pending)  # Pending has the shape of a Source
    derived = prep.memo.get(("questions", "derived"))
    if derived is None:
        derived = prep.memo[("questions", "derived")] = derived_sources(run.kb)
    for fact, indexes in run.facts.derived_unknown.items():
        sources += [derived[fact][j] for j in indexes]
    imaged = run.facts.imaged
    vocab = run.kb.vocabulary

    def make(cond: Condition) -> Any:
        return compile_asking(cond, vocab)

    # A draft question is a list (made ~20 times per assessment; a list is the cheapest):
    # [priority, order, id, field, ask, rules, would_change, answer, needs]. Its most
    # decisive effect so far is kept; the wording is written once, at the end. `needs` is
    # () or (the names of the source's unknown leaves, the one answered): the findings
    # needed "together with" it are worked out only for the questions finally asked.
    drafts: dict[str, list[Any]] = {}
    # Most decisive rules first, so a question's best effect is usually found first and the
    # rules after it only add their ids (sort() is stable: ties keep the rule order).
    sources.sort(key=_PRIORITY)
    for compiled, rule_id, would_change, priority in sources:
        compiled.lazy("asking", make)(values, drafts, rule_id, would_change, priority, imaged)
    # By priority, then first asked: `order` is unique, so no later item is ever compared.
    shared = prep.shared
    out = []
    for priority, _, key, target, ask, rules, change, answer, needs in sorted(drafts.values()):
        # Most questions are word for word one that an earlier case asked: share it.
        needed = (tuple(needs[0]), needs[1]) if needs else ()
        cache_key = ("question", priority, key, target, ask, change, answer, needed, *rules)
        found = shared.get(cache_key)
        if found is None:
            text = _text(answer, needed, change)
            found = shared.put(cache_key, _question(key, target, ask, text, rules, priority))
        out.append(found)
    return out


_PRIORITY = itemgetter(3)  # of a Source
_question = builder(Question, "id", "field", "ask", "would_change", "rules", "priority")


def _text(answer: str, needs: tuple[tuple[str, ...], str] | tuple[()], would_change: str) -> str:
    others = sorted({n for n in needs[0] if n != needs[1]})[:4] if needs else []
    if not others:
        return f"if {answer}: {would_change}"
    return f"if {answer} together with {', '.join(others)}: {would_change}"


def compile_asking(cond: Condition, vocab: Vocabulary) -> Any:
    """``f(values, drafts, rule_id, would_change, priority, imaged)``: add what one unknown
    condition asks to the drafts. Generated per condition: each unknown leaf's question id,
    field, wording and answer are constants, and whether answering it alone would make the
    rule fire is worked out from the locals of the walk (see walks.compile_unknown_walk).

    For each unknown leaf, in the order explain() lists them: its name joins `names` (all of
    them: "together with" names the others); if it can be asked (imaging findings only when
    the painful region was imaged), the rule joins its draft, and the draft takes this
    rule's effect if that is more decisive: at this priority if the answer alone makes the
    rule fire, else at priority + 2, when other findings are needed too.
    """

    def on_leaf(leaf: Leaf, fires: str, pad: str) -> list[str]:
        key, target, ask, imaging, answer, name = _ask_of(vocab, leaf)
        lines = [f"{pad}names.append({name!r})"]
        if not key:
            return lines
        if imaging:
            lines.append(f"{pad}if imaged:")
            pad += "    "
        new = f"[99, len(drafts), {key!r}, {target!r}, {ask!r}, [rid], '', 'present', ()]"
        lines += [
            f"{pad}d = drafts.get({key!r})",
            f"{pad}if d is None:",
            f"{pad}    d = drafts[{key!r}] = {new}",
            f"{pad}elif rid not in d[5]:",
            f"{pad}    d[5].append(rid)",
            f"{pad}if d[0] > p:",
        ]
        settle = f"d[0] = p; d[6] = wc; d[7] = {answer!r}; d[8] = ()"
        needed = f"d[0] = p + 2; d[6] = wc; d[7] = 'present'; d[8] = (names, {name!r})"
        if fires == "True":
            return [*lines, f"{pad}    {settle}"]
        if fires != "False":
            lines += [
                f"{pad}    if {fires}:",
                f"{pad}        {settle}",
                f"{pad}    elif d[0] > p + 2:",
            ]
        else:
            lines.append(f"{pad}    if d[0] > p + 2:")
        return [*lines, f"{pad}        {needed}"]

    params = "drafts, rid, wc, p, imaged"
    return compile_unknown_walk(cond, params, ["names = []"], on_leaf, "return", _answer_yes, {})


def derived_sources(kb: KnowledgeBase) -> dict[str, list[Source]]:
    """Per derived fact, per value: the question source an unknown value gives."""
    out: dict[str, list[Source]] = {}
    for fact in {d.fact: None for d in kb.context.derived}:
        derived = next(d for d in kb.context.derived if d.fact == fact)
        out[fact] = [
            (
                kb.condition(f"derived:{fact}:{j}"),
                f"derived.{fact}",
                f"{fact.replace('_', ' ')} would be {value.value}",
                3,
            )
            for j, value in enumerate(derived.values)
        ]
    return out


def _answer_yes(leaf: Leaf) -> float | None:
    """The value a "yes" answer gives the leaf's finding: present for ``present``, absent for
    ``absent``. Other leaves are not answered one finding at a time (None)."""
    if leaf.kind == "present":
        return TRUE
    if leaf.kind == "absent":
        return FALSE
    return None


def _ask_of(vocab: Vocabulary, leaf: Leaf) -> tuple[str, str, str, bool, str, str]:
    key, target, ask = _compose_question(vocab, leaf.kind, leaf.name)
    answer = "present" if leaf.kind == "present" else "absent"
    return key, target, ask, target.startswith("imaging"), answer, leaf.name


def _compose_question(vocab: Vocabulary, kind: str, name: str) -> tuple[str, str, str]:
    """(question id, case field, question text) for a leaf; ("", "", "") if not askable."""
    if kind in ("present", "absent"):
        if vocab.has("finding", name):
            return name, f"findings.{name}", f"{vocab.label('finding', name)}: present or absent?"
        label = vocab.label("imaging_finding", name)
        return name, f"imaging[].findings.{name}", f"On imaging, {label}: present or absent?"
    if kind == "fact" and name in _FACT_FIELDS:
        field_name, ask = _FACT_FIELDS[name]
        return field_name, field_name, ask
    return "", "", ""
