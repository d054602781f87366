"""The pure parts of the free-text reader: phrases, sentences, levels, times, numbers, overlaps,
and the strict loader of kb/nlp. None of these loads spaCy."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from spinecds.errors import KnowledgeBaseError
from spinecds.knowledge.loader import default_kb
from spinecds.nlp.levels import find_levels
from spinecds.nlp.numbers import lab_value_regex, mrc_grade, read_lab
from spinecds.nlp.overlaps import Match, prune
from spinecds.nlp.phrases import PhraseError, check_phrase, compile_phrase, inflections
from spinecds.nlp.rules import default_rules, load_rules, rules_root
from spinecds.nlp.sentences import sentence_starts, wrapped_line_breaks
from spinecds.nlp.timing import find_times

TODAY = date(2026, 11, 21)


def _split(text: str) -> list[str]:
    """A stand-in tokenizer: punctuation apart, as medspaCy's does."""
    import re

    return re.findall(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]", text)


# --- phrases -------------------------------------------------------------------------------


def test_a_word_matches_its_plural_and_a_plural_its_singular() -> None:
    assert {"blade", "blades"} <= set(inflections("blade"))
    assert "injuries" in inflections("injury")
    assert "change" in inflections("changes")


def test_phrase_language_compiles_to_token_patterns() -> None:
    pattern = compile_phrase("pain radiat* ...2 to the? shoulder blade", _split)
    assert pattern[0] == {"LOWER": {"IN": ["pain", "pains"]}}
    assert pattern[1] == {"LOWER": {"REGEX": "^(?:radiat)"}}
    assert pattern[2]["OP"] == "{0,2}" and "no" in pattern[2]["LOWER"]["NOT_IN"]
    assert pattern[4]["OP"] == "?"
    assert compile_phrase("x-ray", _split) == [{"LOWER": "x"}, {"LOWER": "-"}, {"LOWER": "ray"}]
    assert compile_phrase("=MR", _split) == [{"ORTH": "MR"}]
    assert compile_phrase("# mm", _split)[0] == {"LIKE_NUM": True}
    assert compile_phrase("?", _split) == [{"ORTH": "?"}]
    assert compile_phrase("clean ,? dry", _split)[1] == {"ORTH": ",", "OP": "?"}


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("", "empty"),
        ("... pain", "gap"),
        ("pain? ache?", "only optional"),
        ("mid-back|midback pain", "punctuation inside the choice"),
        ("x-ray? views", "optional word"),
    ],
)
def test_broken_phrases_are_refused(phrase: str, problem: str) -> None:
    with pytest.raises(PhraseError, match=problem):
        check_phrase(phrase)


# --- sentences -----------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    rules = default_rules().sentences
    starts = sentence_starts(text, rules.abbreviations, rules.continues_after)
    ends = [*starts[1:], len(text)]
    return [text[a:b].strip() for a, b in zip(starts, ends, strict=True)]


def test_a_wrapped_line_stays_one_sentence_and_a_list_does_not() -> None:
    wrapped = "Patient denies fevers, chills\nor night sweats and has no new weakness in the arms."
    assert len(_sentences(wrapped)) == 1
    assert _sentences("Fever: no\nChills: yes\nNight sweats: no") == [
        "Fever: no",
        "Chills: yes",
        "Night sweats: no",
    ]
    assert (
        len(
            _sentences(
                "s/p posterior cervical fusion with lateral mass screws at\nC4-C7, doing well."
            )
        )
        == 1
    )


def test_periods_after_abbreviations_and_list_numbers_end_nothing() -> None:
    assert _sentences("Seen by Dr. Smith today. No fever.") == [
        "Seen by Dr. Smith today.",
        "No fever.",
    ]
    assert _sentences("Impression:\n1. Solid fusion.\n2. No hardware complication.") == [
        "Impression:",
        "1. Solid fusion.",
        "2. No hardware complication.",
    ]
    assert _sentences("Any trouble swallowing? No.") == ["Any trouble swallowing? No."]


def test_wrapped_breaks_are_found_for_matching_across_lines() -> None:
    text = "No trouble swallowing or breathing, and she reports increasing\nneck pain with turning."
    continues = default_rules().sentences.continues_after
    assert wrapped_line_breaks(text, continues) == [(62, 63)]


# --- levels and times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "segments"),
    [
        ("C5-6", ("C5-C6",)),
        ("C5/6", ("C5-C6",)),
        ("C5-C6", ("C5-C6",)),
        ("c5-6", ("C5-C6",)),
        ("C4-C7", ("C4-C5", "C5-C6", "C6-C7")),
        ("C5-6 and 6-7", ("C5-C6", "C6-C7")),
        ("C5 to C7", ("C5-C6", "C6-C7")),
        ("C7-T1", ("C7-T1",)),
        ("L4-S1", ("L4-L5", "L5-S1")),
    ],
)
def test_levels_are_normalised_to_motion_segments(words: str, segments: tuple[str, ...]) -> None:
    (found,) = find_levels(f"at {words} there")
    assert found.segments == segments


def test_mri_sequences_and_one_vertebra_name_no_segment() -> None:
    assert all(not m.segments for m in find_levels("T1/T2 hyperintense focus; C5 corpectomy"))


@pytest.mark.parametrize(
    ("words", "unit", "amount"),
    [
        ("s/p C5-6 ACDF 2019.", "years_ago", 7.0),
        ("now 2 yrs post-op", "years_ago", 2.0),
        ("two years after surgery", "years_ago", 2.0),
        ("POD 10", "weeks_ago", 1.4),
        ("ACDF in March 2024", "months_ago", 32.0),
        ("ACDF (05/2023)", "months_ago", 42.0),
        ("operated on 2026-10-10", "weeks_ago", 6.0),
        ("MRI 3 weeks ago", "weeks_ago", 3.0),
        ("18 months out from surgery", "months_ago", 18.0),
    ],
)
def test_times_are_read_against_the_date_of_reading(words: str, unit: str, amount: float) -> None:
    (found,) = find_times(words, TODAY)
    assert (found.unit, found.amount) == (unit, amount)


def test_a_future_date_and_an_age_are_no_times() -> None:
    assert find_times("fusion planned for 2028; 58M s/p fall", TODAY) == []


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "elevated"),
    [
        ("ESR 48 (0-20)", True),
        ("ESR 12 mm/hr (ref 0-20)", False),
        ("ESR: 35 [<20]", True),
        ("ESR was 48 H", True),
        ("ESR 48", None),
    ],
)
def test_a_lab_value_is_judged_only_against_the_range_or_flag_given(
    text: str, elevated: bool | None
) -> None:
    import re

    lab = default_rules().labs
    match = re.search(lab_value_regex(lab.labs["esr_elevated"]), text, re.IGNORECASE)
    assert match is not None
    reading = read_lab(text, match.start(), match.end(), lab.after_value)
    assert reading is not None and reading.elevated is elevated


def test_crp_and_wbc_ranges_in_their_units() -> None:
    import re

    lab = default_rules().labs
    for term, text, elevated in (
        ("crp_elevated", "CRP 3.2 mg/dL [<0.5]", True),
        ("wbc_elevated", "WBC 9.1 K/uL (4.0-11.0)", False),
    ):
        match = re.search(lab_value_regex(lab.labs[term]), text, re.IGNORECASE)
        assert match is not None
        reading = read_lab(text, match.start(), match.end(), lab.after_value)
        assert reading is not None and reading.elevated is elevated


@pytest.mark.parametrize(
    ("words", "grade"),
    [("4/5", 4), ("4+/5", 4), ("5-/5", 5), ("MRC grade 3", 3), ("strength 4 out of 5", 4)],
)
def test_mrc_grades(words: str, grade: int) -> None:
    assert mrc_grade(words) == grade


# --- overlaps ------------------------------------------------------------------------------


def test_the_longer_match_wins_at_its_edges_unless_it_keeps_the_inner_one() -> None:
    screw = [
        Match(0, 2, "imaging_finding", "screw_fracture"),
        Match(0, 1, "imaging_finding", "fracture"),
    ]
    assert prune(screw, {}) == [0]
    stenosis = [
        Match(0, 4, "imaging_finding", "high_grade_stenosis"),
        Match(1, 4, "imaging_finding", "central_stenosis"),
    ]
    assert prune(stenosis, {"high_grade_stenosis": ["central_stenosis"]}) == [0, 1]


def test_a_match_in_the_middle_of_a_longer_one_stands_and_ignored_words_never_do() -> None:
    middle = [
        Match(0, 9, "finding", "radicular_arm_pain"),
        Match(2, 6, "finding", "pain_radiating_to_shoulder_blades"),
    ]
    assert prune(middle, {}) == [0, 1]
    ignored = [Match(0, 2, "ignore", ""), Match(1, 2, "finding", "recent_trauma")]
    assert prune(ignored, {}) == []


def test_region_and_contrast_words_are_a_layer_of_their_own() -> None:
    assert prune([Match(0, 2, "finding", "neck_pain"), Match(0, 1, "region", "cervical")], {}) == [
        0,
        1,
    ]


# --- the strict loader ---------------------------------------------------------------------


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "nlp"
    shutil.copytree(rules_root(), target)
    return target


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_rules_load() -> None:
    rules = load_rules(rules_root(), default_kb().vocabulary)
    assert rules.version.startswith("1.0.0+")
    assert set(rules.targets) == {"finding", "imaging_finding", "complaint", "procedure", "study"}


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        (
            "findings.yaml",
            "    phrases: [chill, chills",
            "    phrase: [chill, chills",
            "findings.yaml: terms.chills.phrase",
        ),
        (
            "findings.yaml",
            "  night_sweats:",
            "  night_sweatz:",
            "findings.yaml: terms.night_sweatz",
        ),
        (
            "imaging_findings.yaml",
            "      - pseudarthrosis\n",
            "      - pseudarthrosis|mid-back\n",
            "imaging_findings.yaml: terms.pseudarthrosis",
        ),
        (
            "context.yaml",
            '      - "never"\n',
            '      - "never"\n      - "no"\n',
            "context.yaml: rules[1]",
        ),
        (
            "sections.yaml",
            "    assertion: someone_else",
            "    assertion: somebody",
            "sections.yaml: sections.family_history.assertion",
        ),
        (
            "labs.yaml",
            "    labs: [esr_elevated, crp_elevated]",
            "    labs: [esr_elevated, crp]",
            "labs.yaml: panels[0].labs",
        ),
    ],
)
def test_a_broken_rule_file_is_refused_naming_file_and_field(
    rules_copy: Path, file: str, old: str, new: str, where: str
) -> None:
    _break(rules_copy / file, old, new)
    with pytest.raises(KnowledgeBaseError) as caught:
        load_rules(rules_copy, default_kb().vocabulary)
    assert any(p.field.startswith(f"kb/nlp/{where}") for p in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]


def test_kb_check_reports_broken_text_rules(tmp_path: Path) -> None:
    from spinecds.knowledge.check import check_kb
    from spinecds.knowledge.loader import load_kb

    kb_copy = tmp_path / "kb"
    shutil.copytree(default_kb().root, kb_copy)
    _break(kb_copy / "nlp" / "procedures.yaml", "  acdf:", "  acdff:")
    problems = check_kb(load_kb(kb_copy)).problems
    assert any("acdff" in str(p) and "procedures.yaml" in p.field for p in problems)
