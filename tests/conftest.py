"""Shared fixtures: the knowledge base loaded once, and a helper to build cases."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Hermetic: the knowledge base's parse cache goes to a fresh folder, never the user's cache.
# Set at import, before any test module loads the knowledge base.
os.environ["SPINECDS_CACHE_DIR"] = tempfile.mkdtemp(prefix="spinecds-test-cache-")
# Nothing a test does may land in the developer's audit log under var/.
os.environ["SPINECDS_DATABASE_URL"] = (
    "sqlite:///" + tempfile.mkdtemp(prefix="spinecds-test-db-") + "/audit.db"
)

from spinecds import Assessment, Case, KnowledgeBase, assess, default_kb, parse_case

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return default_kb()


@pytest.fixture(scope="session")
def make_case(kb: KnowledgeBase) -> Callable[..., Case]:
    """Build a valid case from keyword overrides of a minimal post-ACDF case."""

    def build(**overrides: Any) -> Case:
        data: dict[str, Any] = {
            "age": 55,
            "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2}],
            "complaint": ["neck_pain"],
            "findings": {},
        }
        data.update(overrides)
        return parse_case(data, kb.vocabulary, kb.procedures)

    return build


@pytest.fixture(scope="session")
def run_case(kb: KnowledgeBase, make_case: Callable[..., Case]) -> Callable[..., Assessment]:
    """Assess a case built from keyword overrides."""

    def run(**overrides: Any) -> Assessment:
        return assess(make_case(**overrides), kb)

    return run


# --- fixtures added by module owners below (one delimited block each) ---
