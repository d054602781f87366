"""The synthetic population: reproducible, valid, cited, and coded only from codes.yaml."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinecds import KnowledgeBase, KnowledgeBaseError, assess, parse_case
from spinecds.batch.population import Population, default_path, default_population, load_population
from spinecds.batch.synth import generate, write_synthetic
from spinecds.batch.synth_fhir import RESOURCE_TYPES

SHARED_CODES = Path(__file__).resolve().parents[1].parent / "shared" / "codes" / "codes.yaml"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_jsonl(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "a.jsonl", n=300, seed=42)
    write_synthetic(tmp_path / "b.jsonl", n=300, seed=42)
    write_synthetic(tmp_path / "c.jsonl", n=300, seed=43)
    a = (tmp_path / "a.jsonl").read_bytes()
    assert a == (tmp_path / "b.jsonl").read_bytes()
    assert a != (tmp_path / "c.jsonl").read_bytes()
    assert len(a.splitlines()) == 300


def test_same_seed_same_bytes_fhir_bulk(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "a", n=200, seed=42, fmt="fhir-bulk")
    write_synthetic(tmp_path / "b", n=200, seed=42, fmt="fhir-bulk")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert sorted(_tree(tmp_path / "a")) == sorted(
        ["manifest.json", *(f"{t}.ndjson" for t in RESOURCE_TYPES)]
    )


def test_every_synthetic_case_is_valid_and_every_pathway_occurs(kb: KnowledgeBase) -> None:
    pathways: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    for patient in generate(1500, seed=9):
        data = dict(patient.case)
        assert data.pop("patient_id") == patient.patient_id
        assert data.pop("record_date") == patient.record_date.isoformat()
        a = assess(parse_case(data, kb.vocabulary, kb.procedures), kb)
        pathways[a.pathway] += 1
        if a.order_review:
            verdicts[a.order_review.verdict] += 1
    expected = {
        "post_surgical_no_red_flags",
        "surgery_naive",
        "suspected_infection",
        "myelopathy",
        "suspected_malignancy",
        "trauma",
        "hardware_emergency",
    }
    assert expected <= set(pathways)
    assert set(verdicts) == {"appropriate", "consider_alternative", "not_appropriate"}


def test_unknown_findings_are_left_out_never_false() -> None:
    """Patients whose red flags were not asked about carry none of them."""
    red_flags = set(default_population().distributions["red_flags"].chances or {})
    silent = [p for p in generate(400, seed=3) if not red_flags & set(p.case["findings"])]
    assert 60 < len(silent) < 240  # about 30% are not asked


def test_every_distribution_cites_or_says_it_is_a_modelling_choice(kb: KnowledgeBase) -> None:
    population = default_population()
    for name, d in population.distributions.items():
        assert d.references or d.modelling_choice, name
        assert all(ref in kb.references for ref in d.references), name


def _broken(tmp_path: Path, change: Any) -> Path:
    raw = yaml.safe_load(default_path().read_text())
    change(raw)
    path = tmp_path / "population.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda r: r["distributions"]["sex"].update(references=["nobody-2020"]),
            "sex.references",
            "nobody-2020",
        ),
        (
            lambda r: r["distributions"]["complaints"]["chances"].update(nek_pain=0.1),
            "complaints",
            "nek_pain",
        ),
        (lambda r: r["distributions"]["course"].update(chance=0.5), "course", "exactly"),
        (lambda r: r["distributions"].pop("labs"), "labs", "missing"),
        (
            lambda r: r["distributions"]["ordered_procedure"]["weights"].update({"MRI neck": 3}),
            "ordered_procedure",
            "MRI neck",
        ),
        (
            lambda r: r["distributions"]["labs"]["early_chances"].pop("crp_elevated"),
            "labs.early_chances",
            "same terms",
        ),
    ],
)
def test_a_broken_population_file_names_the_field(
    tmp_path: Path, kb: KnowledgeBase, change: Any, field: str, words: str
) -> None:
    with pytest.raises(KnowledgeBaseError) as caught:
        load_population(_broken(tmp_path, change), kb)
    text = str(caught.value)
    assert f"distributions.{field}" in text and words in text


def test_the_population_file_rejects_unknown_keys(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = _broken(tmp_path, lambda r: r["distributions"]["sex"].update(weight={"male": 1}))
    with pytest.raises(KnowledgeBaseError, match="weight"):
        load_population(path, kb)


def _all_codes(data: dict[str, Any]) -> set[tuple[str, str]]:
    codes = set()
    for group in data["imaging_procedures"]:
        codes |= {(c["code_system"], str(c["code"])) for c in group["codes"]}
    for section in ("surgeries", "conditions", "observations"):
        for entries in data[section].values():
            codes |= {(c["code_system"], str(c["code"])) for c in entries}
    return codes


def _codings(value: Any) -> Any:
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            yield value["system"], value["code"]
        for item in value.values():
            yield from _codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item)


def test_fhir_codes_come_only_from_the_shared_code_map(tmp_path: Path) -> None:
    allowed = _all_codes(yaml.safe_load(SHARED_CODES.read_text()))
    write_synthetic(tmp_path / "x", n=300, seed=4, fmt="fhir-bulk")
    seen = set()
    for kind in RESOURCE_TYPES:
        for line in (tmp_path / "x" / f"{kind}.ndjson").read_text().splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == kind
            seen |= set(_codings(resource))
    assert seen and seen <= allowed
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["transactionTime"] == f"{default_population().as_of}T00:00:00Z"


def test_as_of_moves_the_dates(tmp_path: Path) -> None:
    from datetime import date

    population: Population = default_population()
    write_synthetic(tmp_path / "x.jsonl", n=5, seed=1, as_of=date(2030, 1, 1))
    first = json.loads((tmp_path / "x.jsonl").read_text().splitlines()[0])
    assert first["record_date"] > population.as_of.isoformat()
