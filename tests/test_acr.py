"""Tests driven by the ACR tables: every variant is reachable, every rating is reported as the
table says, and the knowledge base holds exactly what ../shared/acr holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinecds import KnowledgeBase, assess, parse_case

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "variant_cases.yaml").read_text(encoding="utf-8")
)
# ../shared beside the repository (not imported from conftest: tests/browser has its own)
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_ACR = SHARED / "acr" / "acr_tables.json"


def current_variants(kb: KnowledgeBase) -> list[str]:
    return [key for key, (topic, _) in kb.variants.items() if not topic.superseded]


def test_there_are_33_current_variants(kb: KnowledgeBase) -> None:
    assert len(current_variants(kb)) == 33


def test_every_current_variant_has_a_case(kb: KnowledgeBase) -> None:
    assert sorted(CASES) == sorted(current_variants(kb))


@pytest.mark.parametrize("key", sorted(CASES))
def test_variant_is_reachable(kb: KnowledgeBase, key: str) -> None:
    spec = CASES[key]
    assessment = assess(parse_case(spec["case"], kb.vocabulary, kb.procedures), kb)
    assert assessment.acr is not None
    if spec.get("related"):
        assert key in [r.key for r in assessment.acr.related]
    else:
        assert assessment.acr.key == key, assessment.pathway_reason


@pytest.mark.parametrize("key", sorted(k for k, v in CASES.items() if not v.get("related")))
def test_ratings_are_reported_as_the_table_says(kb: KnowledgeBase, key: str) -> None:
    topic, variant = kb.variants[key]
    assessment = assess(parse_case(CASES[key]["case"], kb.vocabulary, kb.procedures), kb)
    assert assessment.acr is not None
    assert assessment.acr.topic == topic.topic
    assert assessment.acr.variant == variant.number
    reported = [(r.procedure, r.category, r.rating, r.rrl) for r in assessment.acr.ratings]
    assert reported == [(r.procedure, r.category, r.rating, r.rrl) for r in variant.ratings]
    for choice in assessment.imaging:
        if choice.category is not None:  # a recommended study shows its own rating
            row = next(
                r
                for r in variant.ratings
                if r.procedure == choice.procedure
                or r.procedure.replace("spine area of interest", "cervical spine")
                == choice.procedure
                or r.procedure.replace("spine area of interest", "thoracic spine")
                == choice.procedure
                or r.procedure.replace("spine area of interest", "lumbar spine") == choice.procedure
            )
            assert (choice.category, choice.rating, choice.rrl) == (
                row.category,
                row.rating,
                row.rrl,
            )


@pytest.mark.skipif(not SHARED_ACR.exists(), reason="../shared/acr is not beside this checkout")
def test_kb_holds_exactly_the_shared_tables(kb: KnowledgeBase) -> None:
    shared = json.loads(SHARED_ACR.read_text(encoding="utf-8"))
    by_title = {t.topic: t for t in kb.topics.values()}
    for topic in shared["topics"]:
        ours = by_title[topic["topic"]]
        assert ours.revision_year == topic.get("revision_year")
        assert len(ours.variants) == len(topic["variants"])
        for mine, theirs in zip(ours.variants, topic["variants"], strict=True):
            assert mine.number == theirs.get("number")
            assert mine.description != theirs["description"]  # our words, not theirs
            got = [(r.procedure, r.category, r.rating, r.rrl) for r in mine.ratings]
            want = [
                (p["procedure"], p["category"], p.get("rating"), p.get("rrl"))
                for p in theirs["procedures"]
            ]
            assert got == want


def test_next_imaging_names_are_acr_procedures(kb: KnowledgeBase) -> None:
    names = set(kb.procedures.values())
    for spec in CASES.values():
        assessment = assess(parse_case(spec["case"], kb.vocabulary, kb.procedures), kb)
        assert set(assessment.next_imaging) <= names
