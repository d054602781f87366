"""kb/cds/services.yaml is checked by `spinecds kb check`: faults injected into a copy."""

from __future__ import annotations

from spinecds import KnowledgeBase
from spinecds.service.cds.config import cds_config, check_cds_config


def test_the_shipped_service_file_passes(kb: KnowledgeBase) -> None:
    assert check_cds_config(kb) == []


def test_unknown_prefetch_keys_and_unprefetched_required_keys_fail(kb: KnowledgeBase) -> None:
    cfg = cds_config()
    broken = cfg.services[0].model_copy(
        update={"prefetch": ["patient", "labs"], "required": ["conditions"]}
    )
    problems = check_cds_config(kb, cfg.model_copy(update={"services": [broken, broken]}))
    text = [str(p) for p in problems]
    assert any("no prefetch template 'labs'" in t for t in text)
    assert any("'conditions' is required but not prefetched" in t for t in text)
    assert any("is used twice" in t for t in text)


def test_every_acr_category_needs_an_appropriateness_rating(kb: KnowledgeBase) -> None:
    cfg = cds_config()
    ratings = {
        k: v for k, v in cfg.pama_rating_by_category.items() if k != "Usually Not Appropriate"
    }
    problems = check_cds_config(kb, cfg.model_copy(update={"pama_rating_by_category": ratings}))
    assert [p.problem for p in problems] == [
        "ACR category 'Usually Not Appropriate' has no appropriateness rating"
    ]
