"""The patient version: plain words from the vocabulary, no ACR terms, no reference ids.

A patient needs four things: what may be wrong, what happens next, what treatment may
be offered, and when not to wait. Everything here comes from the vocabulary's ``plain``
strings and the follow-up items' ``plain`` texts; the clinician report keeps the sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from spinecds.assessment import Assessment, PlanItem
from spinecds.engine.imaging import kind_of
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.render.common import Block, Bullets, Heading, Para
from spinecds.render.markdown import render_markdown
from spinecds.render.text import render_text

__all__ = ["EMERGENCY", "patient_sections", "render_patient"]

TITLE = "Your spine check-up, in plain words"
EMERGENCY = "Go to the emergency department now."
GOING_ON = "These are possible causes, not a diagnosis. The best fit comes first."
CLOSING = "Your care team has the full report and its sources."
WIDTH = 80
TOP_DIAGNOSES = 3
PHASES = {
    "now": "Straight away",
    "conservative": "Exercise, therapy and looking after yourself",
    "medicines": "Medicines",
    "interventional": "Injections and other procedures",
    "surgical": "An operation",
}
# Evidence levels a patient should hear are thin; very_low uses the vocabulary's own words.
THIN_EVIDENCE = {"case_series", "expert_opinion", "very_low"}
THIN_NOTE = "Only a little research supports this so far."
# What each kind of study is called in everyday speech; the vocabulary explains it after.
STUDY_NAMES = {
    "radiography": "An X-ray of the {area}",
    "flexion_extension": "X-rays of the {area} while you bend forward and back",
    "ct": "A CT scan of the {area}",
    "ct_contrast": "A CT scan of the {area} with dye",
    "ct_myelography": "A CT scan of the {area} with dye around the spinal cord",
    "mri": "An MRI scan of the {area}",
    "mri_contrast": "An MRI scan of the {area} with dye",
}
STUDY_IDS = {
    "radiography": "radiography",
    "flexion_extension": "radiography_flexion_extension",
    "ct": "ct",
    "ct_contrast": "ct_with_contrast",
    "ct_myelography": "ct_myelography",
    "mri": "mri",
    "mri_contrast": "mri_with_contrast",
}
AREAS = {"cervical": "neck", "thoracic": "upper back", "lumbar": "lower back"}


@dataclass(frozen=True, slots=True)
class Item:
    """One point, with optional short explanations under it."""

    text: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    """A heading, an optional sentence that frames the points, and the points."""

    key: str
    heading: str
    items: tuple[Item, ...]
    intro: str = ""


def render_patient(a: Assessment, kb: KnowledgeBase, fmt: str) -> str:
    """The patient version as text, Markdown, or a JSON object of plain strings."""
    sections = patient_sections(a, kb)
    if fmt == "json":
        return json.dumps(_as_json(a, kb, sections), indent=2, ensure_ascii=False)
    blocks = _as_blocks(a, kb, sections)
    return render_markdown(blocks) if fmt == "markdown" else render_text(blocks, WIDTH)


def how_soon(a: Assessment, kb: KnowledgeBase) -> str:
    """The first line a patient reads: in an emergency, the instruction and nothing else."""
    if a.urgency == "emergency":
        return EMERGENCY
    return f"How soon: {kb.vocabulary.plain('urgency', a.urgency)}."


def patient_sections(a: Assessment, kb: KnowledgeBase) -> list[Section]:
    return [
        Section("what_may_be_going_on", "What may be going on", _going_on(a, kb), GOING_ON),
        Section("what_happens_next", "What happens next", _next(a, kb)),
        Section("treatments", "Treatments you may be offered", _treatments(a, kb)),
        Section("get_help_the_same_day_if", "Get help the same day if", _same_day(a)),
    ]


def _going_on(a: Assessment, kb: KnowledgeBase) -> tuple[Item, ...]:
    top = a.differential[:TOP_DIAGNOSES]
    if not top:
        return (Item("Your care team will look for the cause with you."),)
    return tuple(Item(_sentence(kb.vocabulary.plain("differential", d.id))) for d in top)


def _next(a: Assessment, kb: KnowledgeBase) -> tuple[Item, ...]:
    items = [_study(p.procedure, kb) for p in a.imaging]
    if not items:
        items.append(Item("No scan or X-ray is needed right now."))
    if a.labs:
        labs = tuple(_sentence(kb.vocabulary.plain("lab", lab)) for lab in a.labs)
        items.append(Item("Blood tests.", labs))
    if _tell_referral(a):
        items.append(Item(_sentence(kb.vocabulary.plain("referral", a.referral))))
    if a.order_review is not None:
        verdict = kb.vocabulary.plain("verdict", a.order_review.verdict)
        items.append(Item(f"About the test first suggested: {_sentence(verdict)}"))
    items += [
        Item(_sentence(f.plain)) for f in a.follow_up if f.plain and f.kind != "return_sooner"
    ]
    return tuple(items)


def _tell_referral(a: Assessment) -> bool:
    """In an emergency the first line already says where to go; say it once, not twice."""
    if a.urgency == "emergency":
        return a.referral not in ("none", "emergency_department")
    return True


def _study(procedure: str, kb: KnowledgeBase) -> Item:
    """``Radiography cervical spine`` -> ``An X-ray of the neck`` plus what that test is."""
    modality = kind_of(procedure).modality
    area = next((AREAS[r] for r in AREAS if r in procedure.lower()), "spine")
    name = STUDY_NAMES.get(modality, "A scan of the {area}").format(area=area)
    study = STUDY_IDS.get(modality)
    if study is None:
        return Item(f"{name}.")
    return Item(f"{name}.", (_sentence(kb.vocabulary.plain("study", study)),))


def _treatments(a: Assessment, kb: KnowledgeBase) -> tuple[Item, ...]:
    items = []
    for phase, heading in PHASES.items():
        steps = [p for p in a.plan if p.phase == phase]
        if steps:
            items.append(Item(heading, tuple(_treatment(p, kb) for p in steps)))
    return tuple(items) or (Item("Your care team will talk with you about treatment."),)


def _treatment(step: PlanItem, kb: KnowledgeBase) -> str:
    """The step in the knowledge base's plain words for patients."""
    vocab = kb.vocabulary
    name = kb.plan_steps[step.id].plain if step.id in kb.plan_steps else step.title
    if step.evidence not in THIN_EVIDENCE:
        return _sentence(name)
    note = (
        _sentence(vocab.plain("evidence", step.evidence))
        if step.evidence == "very_low"
        else THIN_NOTE
    )
    return f"{_sentence(name)} {note}"


def _same_day(a: Assessment) -> tuple[Item, ...]:
    """Warning signs in the patient's words; the emergency instruction leads when it applies."""
    items = [Item(_sentence(f.plain or f.text)) for f in a.follow_up if f.kind == "return_sooner"]
    if a.urgency == "emergency":
        items.insert(0, Item(EMERGENCY))
    return tuple(items) or (Item("You feel much worse, or something new worries you."),)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _as_blocks(a: Assessment, kb: KnowledgeBase, sections: list[Section]) -> list[Block]:
    blocks: list[Block] = [Para(how_soon(a, kb), strong=True), Heading(TITLE, 1)]
    for section in sections:
        items = tuple(i.text for i in section.items)
        children = tuple(i.details for i in section.items)
        blocks.append(Heading(section.heading))
        if section.intro:
            blocks.append(Para(section.intro))
        blocks.append(Bullets(items, children=children))
    blocks.append(Para(CLOSING))
    return blocks


def _as_json(a: Assessment, kb: KnowledgeBase, sections: list[Section]) -> dict[str, str]:
    """Each section as one plain string, one point per line, explanations indented."""
    data = {"how_soon": how_soon(a, kb), "title": TITLE}
    for section in sections:
        lines = [section.intro] if section.intro else []
        for item in section.items:
            lines.append(item.text)
            lines += [f"  {d}" for d in item.details]
        data[section.key] = "\n".join(lines)
    data["closing"] = CLOSING
    return data
