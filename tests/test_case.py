"""The case model: shape, three-valued findings, normalisation, and errors that help.

See ../shared/case-format.md. Every bad input must be rejected with a problem that
names its field and says how to fix it; nothing may be guessed silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinecds import Case, CaseError, KnowledgeBase, SpinecdsError, parse_case
from spinecds.case import CaseIn
from spinecds.errors import FieldProblem

SHARED_CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"


def _shared_case_params() -> list[Any]:
    files = sorted(
        p
        for p in [*SHARED_CASES.glob("*.yaml"), *SHARED_CASES.glob("*.json")]
        if p.name != "expected.yaml"
    )
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no cases in {SHARED_CASES}"))]
    return [pytest.param(p, id=p.stem) for p in files]


SHARED_CASE_PARAMS = _shared_case_params()


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def base_case(**overrides: Any) -> dict[str, Any]:
    """A minimal valid post-ACDF case as raw data, with keyword overrides."""
    data: dict[str, Any] = {
        "age": 55,
        "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2}],
        "complaint": ["neck_pain"],
        "findings": {},
    }
    data.update(overrides)
    return data


def without(key: str) -> dict[str, Any]:
    data = base_case()
    del data[key]
    return data


def surgery(**fields: Any) -> dict[str, Any]:
    return base_case(surgeries=[{"procedure": "acdf", **fields}])


def problems_of(kb: KnowledgeBase, data: Any) -> list[FieldProblem]:
    with pytest.raises(CaseError) as info:
        parse_case(data, kb.vocabulary, kb.procedures)
    assert info.value.problems, "a CaseError must list at least one problem"
    return info.value.problems


def problem_at(problems: list[FieldProblem], field: str) -> FieldProblem:
    found = [p for p in problems if p.field == field]
    assert found, f"no problem names {field!r}; got {[p.field for p in problems]}"
    return found[0]


# --- every shared case is accepted as it is -------------------------------------------


@pytest.mark.parametrize("path", SHARED_CASE_PARAMS)
def test_shape_model_accepts_shared_case(path: Path) -> None:
    CaseIn.model_validate(_load(path))


@pytest.mark.parametrize("path", SHARED_CASE_PARAMS)
def test_parse_case_accepts_shared_case(kb: KnowledgeBase, path: Path) -> None:
    data = _load(path)
    case = parse_case(data, kb.vocabulary, kb.procedures)
    assert isinstance(case, Case)
    assert case.id == data.get("id")
    assert case.complaint == frozenset(data["complaint"])
    assert len(case.surgeries) == len(data["surgeries"])
    assert len(case.imaging) == len(data.get("imaging") or [])
    # Findings hold exactly what the file states as known, with the same values.
    stated = {k: v for k, v in (data.get("findings") or {}).items() if v is not None}
    assert dict(case.findings) == stated


def test_numeric_id_is_kept_as_text(make_case: Callable[..., Case]) -> None:
    assert make_case(id=17).id == "17"


# --- three-valued findings ------------------------------------------------------------


def test_true_and_false_findings_are_kept(make_case: Callable[..., Case]) -> None:
    case = make_case(findings={"fever": True, "chills": False})
    assert case.findings["fever"] is True
    assert case.findings["chills"] is False


def test_null_finding_is_unknown_not_absent(make_case: Callable[..., Case]) -> None:
    case = make_case(findings={"fever": None, "chills": False})
    assert "fever" not in case.findings
    assert case.findings.get("fever") is None  # unknown, never stored as False
    assert dict(case.findings) == {"chills": False}


def test_missing_finding_is_unknown(make_case: Callable[..., Case]) -> None:
    case = make_case(findings={})
    assert "fever" not in case.findings
    assert False not in case.findings.values()


def test_missing_findings_key_means_all_unknown(kb: KnowledgeBase) -> None:
    case = parse_case(without("findings"), kb.vocabulary, kb.procedures)
    assert dict(case.findings) == {}


def test_null_imaging_finding_is_unknown(make_case: Callable[..., Case]) -> None:
    case = make_case(
        imaging=[
            {
                "study": "ct",
                "region": "cervical",
                "weeks_ago": 1,
                "findings": {"fracture": False, "screw_backout": None, "solid_fusion": True},
            }
        ]
    )
    assert dict(case.imaging[0].findings) == {"fracture": False, "solid_fusion": True}


def test_numeric_finding_is_a_number(make_case: Callable[..., Case]) -> None:
    case = make_case(findings={"motor_grade": 4})
    assert case.findings["motor_grade"] == 4.0
    assert not isinstance(case.findings["motor_grade"], bool)


def test_numeric_finding_zero_is_known(make_case: Callable[..., Case]) -> None:
    assert make_case(findings={"motor_grade": 0}).findings["motor_grade"] == 0.0


# --- time normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "weeks"),
    [
        ("weeks_ago", 3, 3.0),
        ("weeks_ago", 0, 0.0),
        ("months_ago", 6, 26.0),
        ("months_ago", 12, 52.0),
        ("years_ago", 2, 104.0),
        ("years_ago", 0.5, 26.0),
    ],
)
def test_time_since_surgery_in_weeks(
    make_case: Callable[..., Case], key: str, value: float, weeks: float
) -> None:
    case = make_case(surgeries=[{"procedure": "acdf", key: value}])
    assert case.surgeries[0].weeks_ago == pytest.approx(weeks)


@pytest.mark.parametrize(
    ("key", "value", "weeks"),
    [("weeks_ago", 2, 2.0), ("months_ago", 6, 26.0), ("years_ago", 2, 104.0)],
)
def test_time_since_imaging_in_weeks(
    make_case: Callable[..., Case], key: str, value: float, weeks: float
) -> None:
    case = make_case(imaging=[{"study": "mri", "region": "cervical", key: value}])
    assert case.imaging[0].weeks_ago == pytest.approx(weeks)


def test_surgery_without_time_is_unknown(make_case: Callable[..., Case]) -> None:
    assert make_case(surgeries=[{"procedure": "acdf"}]).surgeries[0].weeks_ago is None


def test_empty_surgeries_means_surgery_naive(make_case: Callable[..., Case]) -> None:
    assert make_case(surgeries=[]).surgeries == ()


# --- level normalisation --------------------------------------------------------------


@pytest.mark.parametrize("text", ["C5-6", "C5/6", "C5-C6", "c5-c6", " C5 - C6 ", "C5\u2013C6"])
def test_level_spellings_mean_one_segment(make_case: Callable[..., Case], text: str) -> None:
    case = make_case(surgeries=[{"procedure": "acdf", "levels": [text], "weeks_ago": 1}])
    assert case.surgeries[0].levels == ("C5-C6",)


def test_level_span_expands_to_segments(make_case: Callable[..., Case]) -> None:
    case = make_case(surgeries=[{"procedure": "acdf", "levels": ["C5-C7"], "weeks_ago": 1}])
    assert case.surgeries[0].levels == ("C5-C6", "C6-C7")


def test_cervicothoracic_junction_is_a_cervical_level(make_case: Callable[..., Case]) -> None:
    case = make_case(surgeries=[{"procedure": "acdf", "levels": ["C7-T1"], "weeks_ago": 1}])
    assert case.surgeries[0].levels == ("C7-T1",)


@pytest.mark.parametrize(
    ("text", "segments"),
    [("L4-5", ("L4-L5",)), ("L5-S1", ("L5-S1",)), ("L2-L5", ("L2-L3", "L3-L4", "L4-L5"))],
)
def test_lumbar_levels_on_lumbar_fusion(
    make_case: Callable[..., Case], text: str, segments: tuple[str, ...]
) -> None:
    case = make_case(surgeries=[{"procedure": "lumbar_fusion", "levels": [text], "years_ago": 4}])
    assert case.surgeries[0].region == "lumbar"
    assert case.surgeries[0].levels == segments


def test_levels_keep_their_order(make_case: Callable[..., Case]) -> None:
    case = make_case(surgeries=[{"procedure": "acdf", "levels": ["C6/7", "C4-5"], "weeks_ago": 1}])
    assert case.surgeries[0].levels == ("C6-C7", "C4-C5")


# --- proposed order -------------------------------------------------------------------


def test_proposed_order_is_spelled_as_the_acr_tables_do(make_case: Callable[..., Case]) -> None:
    case = make_case(proposed_order="  mri cervical spine   without iv contrast ")
    assert case.proposed_order == "MRI cervical spine without IV contrast"


def test_proposed_order_unchecked_without_procedure_table(kb: KnowledgeBase) -> None:
    case = parse_case(base_case(proposed_order="anything at all"), kb.vocabulary)
    assert case.proposed_order == "anything at all"


# --- bad input: every problem names its field and says how to fix it ------------------


@dataclass(frozen=True)
class Bad:
    data: Any
    field: str
    says: str  # appears in the problem text (case-insensitive)
    fix: str  # appears in the (non-empty) fix, case-insensitive; "" = any fix
    suggests: tuple[str, ...] = ()


BAD_INPUTS: dict[str, Bad] = {
    "misspelt-finding": Bad(
        base_case(findings={"fevr": True}),
        "findings.fevr",
        "unknown finding",
        "spinecds vocab finding",
        ("fever",),
    ),
    "misspelt-procedure": Bad(
        surgery(procedure="acfd", years_ago=2),
        "surgeries[0].procedure",
        "unknown procedure",
        "spinecds vocab procedure",
        ("acdf",),
    ),
    "misspelt-complaint": Bad(
        base_case(complaint=["nek_pain"]),
        "complaint",
        "unknown complaint",
        "spinecds vocab complaint",
        ("neck_pain",),
    ),
    "misspelt-study": Bad(
        base_case(imaging=[{"study": "radiograpy", "region": "cervical", "weeks_ago": 0}]),
        "imaging[0].study",
        "unknown study",
        "spinecds vocab study",
        ("radiography",),
    ),
    "misspelt-imaging-finding": Bad(
        base_case(
            imaging=[{"study": "ct", "region": "cervical", "findings": {"screw_backot": True}}]
        ),
        "imaging[0].findings.screw_backot",
        "unknown imaging finding",
        "spinecds vocab imaging_finding",
        ("screw_backout",),
    ),
    "misspelt-treatment": Bad(
        base_case(treatments=[{"treatment": "physcial_therapy", "weeks": 2}]),
        "treatments[0].treatment",
        "unknown treatment",
        "spinecds vocab treatment",
        ("physical_therapy",),
    ),
    "misspelt-top-level-key": Bad(
        {**without("complaint"), "complaints": ["neck_pain"]},
        "complaints",
        "not a field",
        "case-format",
        ("complaint",),
    ),
    "misspelt-surgery-key": Bad(
        base_case(surgeries=[{"procedure": "acdf", "year_ago": 2}]),
        "surgeries[0].year_ago",
        "not a field",
        "case-format",
        ("years_ago",),
    ),
    "finding-not-boolean": Bad(
        base_case(findings={"fever": 1}),
        "findings.fever",
        "true (present) or false (absent)",
        "leave the finding out",
    ),
    "level-no-such-vertebra": Bad(
        surgery(levels=["C9-C10"], weeks_ago=3),
        "surgeries[0].levels[0]",
        "no vertebra c9",
        "such as c5-c6",
    ),
    "level-reversed": Bad(
        surgery(levels=["C6-C5"], weeks_ago=3),
        "surgeries[0].levels[0]",
        "upper vertebra must come first",
        "such as c5-c6",
    ),
    "level-not-a-level": Bad(
        surgery(levels=["neck"], weeks_ago=3),
        "surgeries[0].levels[0]",
        "not a spinal level",
        "such as c5-c6",
    ),
    "lumbar-level-on-acdf": Bad(
        surgery(levels=["L4-L5"], weeks_ago=3),
        "surgeries[0].levels[0]",
        "not a cervical level",
        "check the level or the procedure",
    ),
    "two-times-on-surgery": Bad(
        surgery(weeks_ago=3, years_ago=2),
        "surgeries[0]",
        "weeks_ago and years_ago",
        "keep the most precise one",
    ),
    "two-times-on-imaging": Bad(
        base_case(imaging=[{"study": "ct", "region": "cervical", "weeks_ago": 1, "months_ago": 2}]),
        "imaging[0]",
        "weeks_ago and months_ago",
        "keep the most precise one",
    ),
    "missing-surgeries": Bad(without("surgeries"), "surgeries", "is required", "give []"),
    "missing-complaint": Bad(without("complaint"), "complaint", "is required", ""),
    "proposed-order-not-acr": Bad(
        base_case(proposed_order="MRI cervical spine without contrast"),
        "proposed_order",
        "not an acr procedure name",
        "spinecds kb procedures",
        ("MRI cervical spine without IV contrast",),
    ),
    # Shape and range errors: they name the field, but say nothing under "fix" (yet),
    # so only a non-empty fix is asked of them.
    "age-not-a-number": Bad(base_case(age="old"), "age", "valid number", ""),
    "age-impossible": Bad(base_case(age=200), "age", "120", ""),
    "negative-weeks-ago": Bad(surgery(weeks_ago=-1), "surgeries[0].weeks_ago", "0", ""),
    "negative-symptom-weeks": Bad(base_case(symptom_weeks=-2), "symptom_weeks", "0", ""),
    "motor-grade-impossible": Bad(
        base_case(findings={"motor_grade": 7}), "findings.motor_grade", "0-5", ""
    ),
    "motor-grade-boolean": Bad(
        base_case(findings={"motor_grade": True}), "findings.motor_grade", "number", ""
    ),
    "empty-complaint": Bad(base_case(complaint=[]), "complaint", "at least 1", ""),
    "imaging-region-unknown": Bad(
        base_case(imaging=[{"study": "ct", "region": "neck"}]), "imaging[0].region", "cervical", ""
    ),
}


@pytest.mark.parametrize("bad", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_names_the_field(kb: KnowledgeBase, bad: Bad) -> None:
    problems = problems_of(kb, bad.data)
    problem = problem_at(problems, bad.field)
    assert bad.says.lower() in problem.problem.lower()
    for word in bad.suggests:
        assert word in problem.suggestions
    if bad.suggests:
        assert problem.suggestions[0] == bad.suggests[0], "the nearest term comes first"


@pytest.mark.parametrize(
    "bad",
    [pytest.param(bad, id=name) for name, bad in BAD_INPUTS.items()],
)
def test_bad_input_says_how_to_fix(kb: KnowledgeBase, bad: Bad) -> None:
    problem = problem_at(problems_of(kb, bad.data), bad.field)
    assert problem.fix, f"{bad.field}: no fix given ({problem.problem})"
    assert bad.fix.lower() in problem.fix.lower()


def test_error_text_carries_field_suggestion_and_fix(kb: KnowledgeBase) -> None:
    with pytest.raises(CaseError) as info:
        parse_case(base_case(findings={"fevr": True}), kb.vocabulary, kb.procedures)
    error = info.value
    assert isinstance(error, SpinecdsError)
    assert error.exit_code == 2
    text = str(error)
    assert "findings.fevr" in text
    assert "Did you mean: fever?" in text
    assert "Fix: use a term from `spinecds vocab finding`" in text
    as_dict = error.as_dict()
    assert as_dict["problems"] == [error.problems[0].as_dict()]


@pytest.mark.parametrize("data", [["a", "b"], "a case", None, 42], ids=repr)
def test_case_must_be_a_mapping(kb: KnowledgeBase, data: Any) -> None:
    with pytest.raises(CaseError) as info:
        parse_case(data, kb.vocabulary, kb.procedures)
    assert "mapping" in info.value.message
    [problem] = info.value.problems
    assert type(data).__name__ in problem.problem
    assert "case-format" in problem.fix


def test_mapping_that_is_not_a_dict_is_accepted(kb: KnowledgeBase) -> None:
    class Frozen(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self._data = data

        def __getitem__(self, key: str) -> Any:
            return self._data[key]

        def __iter__(self) -> Any:
            return iter(self._data)

        def __len__(self) -> int:
            return len(self._data)

    assert parse_case(Frozen(base_case()), kb.vocabulary).age == 55


# --- several problems at once ---------------------------------------------------------


def test_several_term_problems_are_reported_together(kb: KnowledgeBase) -> None:
    data = base_case(
        surgeries=[{"procedure": "acfd", "years_ago": 2}],
        complaint=["nek_pain"],
        findings={"fevr": True, "chils": False},
        imaging=[{"study": "radiograpy", "region": "cervical"}],
        proposed_order="CT of the neck",
    )
    fields = {p.field for p in problems_of(kb, data)}
    assert fields >= {
        "surgeries[0].procedure",
        "complaint",
        "findings.fevr",
        "findings.chils",
        "imaging[0].study",
        "proposed_order",
    }


def test_several_shape_problems_are_reported_together(kb: KnowledgeBase) -> None:
    data = base_case(age=200, complaint=[], symptom_weeks=-1, sex="m", colour="red")
    fields = {p.field for p in problems_of(kb, data)}
    assert fields >= {"age", "complaint", "symptom_weeks", "sex", "colour"}


def test_shape_and_term_problems_are_reported_together(kb: KnowledgeBase) -> None:
    data = base_case(age=200, findings={"fevr": True})
    fields = {p.field for p in problems_of(kb, data)}
    assert fields >= {"age", "findings.fevr"}


# --- nothing is guessed silently -----------------------------------------


@pytest.mark.parametrize("value", ["yes", "no", "true", "off"])
def test_finding_given_as_a_string_is_rejected(kb: KnowledgeBase, value: str) -> None:
    problem = problem_at(
        problems_of(kb, base_case(findings={"cancer_history": value})), "findings.cancer_history"
    )
    assert "true" in problem.problem.lower()


@pytest.mark.parametrize("value", ["yes", 1])
def test_imaging_finding_not_boolean_is_rejected(kb: KnowledgeBase, value: object) -> None:
    data = base_case(
        imaging=[{"study": "ct", "region": "cervical", "findings": {"fracture": value}}]
    )
    problem_at(problems_of(kb, data), "imaging[0].findings.fracture")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (base_case(age=True), "age"),
        (base_case(symptom_weeks=True), "symptom_weeks"),
        (surgery(weeks_ago=True), "surgeries[0].weeks_ago"),
    ],
    ids=["age", "symptom_weeks", "weeks_ago"],
)
def test_boolean_is_not_a_number(kb: KnowledgeBase, data: dict[str, Any], field: str) -> None:
    problem_at(problems_of(kb, data), field)


def test_wrong_type_finding_is_reported_once_under_its_own_name(kb: KnowledgeBase) -> None:
    problems = problems_of(kb, base_case(findings={"fever": "maybe"}))
    assert [p.field for p in problems] == ["findings.fever"]
