"""Golden tests: each case in tests/golden beside its whole, hand-reviewed assessment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from update_golden import GOLDEN, golden_json

CASES = sorted(GOLDEN.glob("*.yaml"))


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 3


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_assessment_matches_golden(case_path: Path) -> None:
    expected = json.loads(case_path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(golden_json(case_path)))
    for key in expected:  # field by field, so a failure names the part that changed
        assert actual.get(key) == expected[key], f"{case_path.stem}: field {key!r} changed"
    assert set(actual) == set(expected)
