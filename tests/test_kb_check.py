"""`kb check` must catch each class of knowledge-base fault, not just pass on a good KB."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from spinecds.errors import KnowledgeBaseError
from spinecds.knowledge.check import check_kb
from spinecds.knowledge.loader import default_root, load_kb


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(default_root(), root)
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_after(root: Path) -> list[str]:
    return [str(p) for p in check_kb(load_kb(root)).problems]


def test_shipped_kb_passes() -> None:
    assert check_kb(load_kb(default_root())).problems == []


FAULTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "unknown reference": (
        lambda r: edit(
            r,
            "rules/triage.yaml",
            "cite: [halani-2016-esophageal-perforation-sr, ning",
            "cite: [halani-2099-made-up, ning",
        ),
        "unknown reference 'halani-2099-made-up'",
    ),
    "procedure not in ACR tables": (
        lambda r: edit(
            r,
            "rules/imaging.yaml",
            "imaging: [CTA head and neck with IV contrast]",
            "imaging: [PET scan of the soul]",
        ),
        "'PET scan of the soul' is not in the ACR tables",
    ),
    "finding not in vocabulary": (
        lambda r: edit(
            r, "rules/triage.yaml", "{present: dyspnea_or_stridor}]}", "{present: dyspnoea}]}"
        ),
        "finding 'dyspnoea' is not in the vocabulary",
    ),
    "rule that can never fire": (
        lambda r: edit(
            r,
            "rules/pitfalls.yaml",
            "when: {treated: opioids}",
            "when: {all: [{present: fever}, {absent: fever}]}",
        ),
        "pitfall.opioids: can never fire",
    ),
    "rule shadowed by an earlier one": (
        lambda r: edit(
            r,
            "rules/variants.yaml",
            "when: {all: [{fact: pathway, eq: suspected_infection}, {use: cervical}, {use: operated_here}]}",
            "when: {all: [{fact: pathway, eq: suspected_infection}, {present: decubitus_ulcer}, {use: not_operated_here}]}",
        ),
        "earlier rules always win",
    ),
    "same conditions, different outcome": (
        lambda r: edit(
            r,
            "rules/variants.yaml",
            "    then: {acr: spine_infection.4}\n    cite: [acr-2021-suspected-spine-infection]\n",
            "    then: {acr: spine_infection.4}\n    cite: [acr-2021-suspected-spine-infection]\n  - id: variant.duplicate\n    title: Duplicate\n"
            "    when:\n      all:\n        - {fact: pathway, eq: suspected_infection}\n"
            "        - {present: decubitus_ulcer}\n        - {use: not_operated_here}\n"
            "    then: {acr: spine_infection.1}\n    cite: [acr-2021-suspected-spine-infection]\n",
        ),
        "contradicts variant.infection_ulcer_over_spine: same conditions",
    ),
    "conflicting plan steps that can co-fire": (
        lambda r: edit(
            r,
            "rules/results.yaml",
            "when: {all: [{use: operated_here}, {present: pseudarthrosis}]}",
            "when: {present: pseudarthrosis}",
        ),
        "choosing conflicting steps",
    ),
    "urgency rule that is not monotone": (
        lambda r: edit(
            r,
            "rules/triage.yaml",
            "when: {present: recent_trauma}\n",
            "when: {all: [{present: recent_trauma}, {absent: fever}]}\n",
        ),
        "sets urgency but uses `absent` or `not`",
    ),
    "impossible fact value": (
        lambda r: edit(
            r,
            "rules/management.yaml",
            "when: {fact: pathway, eq: myelopathy}",
            "when: {fact: pathway, eq: sepsis}",
        ),
        "fact pathway can never be 'sepsis'",
    ),
    "unknown plan step": (
        lambda r: edit(
            r,
            "rules/management.yaml",
            "then: {plan: [infection_microbiology]}",
            "then: {plan: [antibiotics_forever]}",
        ),
        "unknown plan step 'antibiotics_forever'",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_check_catches(kb_copy: Path, fault: str) -> None:
    inject, expected = FAULTS[fault]
    inject(kb_copy)
    found = problems_after(kb_copy)
    assert any(expected in p for p in found), found


def test_schema_error_names_file_and_field(kb_copy: Path) -> None:
    edit(
        kb_copy,
        "rules/pitfalls.yaml",
        "    then: {warn: [opioids_long_term]}",
        "    then: {warn: [opioids_long_term]}\n    colour: red",
    )
    with pytest.raises(KnowledgeBaseError) as caught:
        load_kb(kb_copy)
    text = str(caught.value)
    assert "rules/pitfalls.yaml" in text and "colour" in text


def test_bad_condition_key_is_reported(kb_copy: Path) -> None:
    edit(kb_copy, "rules/pitfalls.yaml", "when: {treated: opioids}", "when: {presnt: fever}")
    with pytest.raises(KnowledgeBaseError) as caught:
        load_kb(kb_copy)
    assert "presnt" in str(caught.value)


def test_version_tracks_content(kb_copy: Path) -> None:
    before = load_kb(kb_copy).version
    edit(
        kb_copy,
        "warnings.yaml",
        "Do not operate on imaging alone.",
        "Never operate on imaging alone.",
    )
    after = load_kb(kb_copy).version
    assert before.split("+")[0] == after.split("+")[0] == "0.1.0"
    assert before != after
