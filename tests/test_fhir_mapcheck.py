"""`spinecds kb check` validates the FHIR code map: each fault names the file and the entry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spinecds.fhir.mapcheck import check_code_map
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
    return [str(p) for p in check_code_map(load_kb(root))]


def test_shipped_code_map_passes() -> None:
    assert check_code_map(load_kb(default_root())) == []


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "fhir/codes.yaml",
            "maps_to: complaint:neck_pain",
            "maps_to: complaint:nek_pain",
            "fhir/codes.yaml: conditions.cervicalgia M54.2: names 'complaint:nek_pain', which is not a vocabulary term.",
        ),
        (
            "fhir/codes.yaml",
            "maps_to: MRI cervical spine without IV contrast",
            "maps_to: MRI neck plain",
            "maps to 'MRI neck plain', which is not an ACR procedure name.",
        ),
        (
            "fhir/codes.yaml",
            "finding_if_high: esr_elevated",
            "finding_if_high: esr_high",
            "observations.esr 4537-7: names 'finding:esr_high'",
        ),
        (
            "fhir/codes.yaml",
            "maps_to: finding:dysphagia",
            "maps_to: swallowing trouble",
            "maps to 'swallowing trouble', which is not a term.",
        ),
        (
            "fhir/mapping.yaml",
            "finding:night_sweats: [night sweats]",
            "finding:night_sweat: [night sweats]",
            "fhir/mapping.yaml: text_phrases.finding:night_sweat",
        ),
        (
            "fhir/mapping.yaml",
            '  - {system: "http://snomed.info/sct", compare: exact}\n',
            "",
            "code system http://snomed.info/sct is not in fhir/mapping.yaml code_systems.",
        ),
    ],
)
def test_code_map_faults_are_found(
    kb_copy: Path, name: str, old: str, new: str, expected: str
) -> None:
    edit(kb_copy, name, old, new)
    found = problems_after(kb_copy)
    assert any(expected in p for p in found), found
    # ... and `kb check` reports them with the rest.
    assert any(expected in str(p) for p in check_kb(load_kb(kb_copy)).problems)


def test_unreadable_code_map_is_a_problem_not_a_crash(kb_copy: Path) -> None:
    (kb_copy / "fhir" / "mapping.yaml").write_text("code_systems: [\n", encoding="utf-8")
    assert any("fhir/mapping.yaml" in p for p in problems_after(kb_copy))
