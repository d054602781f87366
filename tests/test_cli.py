"""The command line: exit codes, JSON output, and user errors without a traceback.

Most tests call ``spinecds.cli.main`` in-process (fast); a few run the installed
``spinecds`` script and the shared acceptance script as subprocesses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from spinecds import KnowledgeBase
from spinecds.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_CASES = SHARED / "cases"
CHECK_CASES = SHARED / "acceptance" / "check_cases.py"
CASE_FORMAT = SHARED / "case-format.md"
BAD_CASES = Path(__file__).resolve().parent / "bad_cases"
BIN = Path(sys.executable).parent / "spinecds"

# The assessment contract of ../shared/case-format.md.
CONTRACT_FIELDS = (
    "case_id",
    "knowledge_version",
    "urgency",
    "pathway",
    "acr",
    "next_imaging",
    "labs",
    "referral",
    "differential",
    "plan",
    "follow_up",
    "warnings",
    "order_review",
    "citations",
    "questions",
    "trace",
)
URGENCIES = {"emergency", "urgent", "routine"}
PATHWAYS = {
    "post_surgical_no_red_flags",
    "suspected_infection",
    "trauma",
    "suspected_malignancy",
    "myelopathy",
    "hardware_emergency",
    "surgery_naive",
}
REFERRALS = {"none", "spine_surgeon", "spine_surgeon_urgent", "emergency_department"}
VERDICTS = {"appropriate", "consider_alternative", "not_appropriate"}
VERSION = re.compile(r"^\d+\.\d+\.\d+\+[0-9a-f]{6,}$")

needs_shared = pytest.mark.skipif(not SHARED_CASES.is_dir(), reason=f"{SHARED_CASES} absent")
needs_bin = pytest.mark.skipif(not BIN.exists(), reason=f"{BIN} not installed")
needs_check = pytest.mark.skipif(not CHECK_CASES.exists(), reason=f"{CHECK_CASES} absent")


def _shared_case_params() -> list[Any]:
    files = sorted(
        p
        for p in [*SHARED_CASES.glob("*.yaml"), *SHARED_CASES.glob("*.json")]
        if p.name != "expected.yaml"
    )
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no cases in {SHARED_CASES}"))]
    return [pytest.param(p, id=p.stem) for p in files]


def _bad_case_params() -> list[Any]:
    expected = yaml.safe_load((BAD_CASES / "expected.yaml").read_text(encoding="utf-8"))
    params = []
    for stem, expect in expected.items():
        path = next(
            p for p in (BAD_CASES / f"{stem}.yaml", BAD_CASES / f"{stem}.json") if p.exists()
        )
        params.append(pytest.param(path, list(expect.get("error_mentions", [])), id=stem))
    return params


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def spinecds(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *argv], capture_output=True, text=True, timeout=60, check=False
    )


def write_case(tmp_path: Path, data: Any, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def minimal_case(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "cli-test",
        "age": 55,
        "surgeries": [{"procedure": "acdf", "levels": ["C5-C6"], "years_ago": 2}],
        "complaint": ["neck_pain"],
        "findings": {},
    }
    data.update(overrides)
    return data


def check_contract(assessment: dict[str, Any], case_id: str | None) -> None:
    """Every contract field is present, with the type and values the contract names."""
    missing = [f for f in CONTRACT_FIELDS if f not in assessment]
    assert not missing, f"contract fields missing: {missing}"
    assert assessment["case_id"] == case_id
    assert VERSION.match(assessment["knowledge_version"])
    assert assessment["urgency"] in URGENCIES
    assert assessment["pathway"] in PATHWAYS
    assert assessment["referral"] in REFERRALS
    acr = assessment["acr"]
    if acr is not None:
        assert {"topic", "variant", "description", "ratings"} <= set(acr)
        for rating in acr["ratings"]:
            assert {"procedure", "category", "rrl"} <= set(rating)
    for key in ("next_imaging", "labs", "citations"):
        assert isinstance(assessment[key], list)
        assert all(isinstance(x, str) for x in assessment[key]), key
    for key in ("differential", "plan", "follow_up", "warnings", "questions", "trace"):
        assert isinstance(assessment[key], list), key
        assert all(isinstance(x, dict) for x in assessment[key]), key
    assert all("id" in d for d in assessment["differential"])
    assert all({"id", "text"} <= set(w) for w in assessment["warnings"])


# --- the contract itself --------------------------------------------------------------


@pytest.mark.skipif(not CASE_FORMAT.exists(), reason=f"{CASE_FORMAT} absent")
def test_contract_fields_are_those_of_case_format_md() -> None:
    text = CASE_FORMAT.read_text(encoding="utf-8")
    table = text.split("## An assessment", 1)[1]
    documented = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert tuple(documented) == CONTRACT_FIELDS


# --- assess (in-process) --------------------------------------------------------------


@pytest.mark.parametrize("path", _shared_case_params())
def test_assess_shared_case_json(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    code, out, err = run(capsys, "assess", str(path), "--format", "json")
    assert code == 0, err
    assert err == ""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assessment = json.loads(out)
    check_contract(assessment, data.get("id"))
    assert assessment["order_review"] is None  # no proposed_order in these cases


@needs_shared
@pytest.mark.parametrize(
    "options", [[], ["--format", "markdown"], ["--audience", "patient"]], ids=str
)
def test_assess_other_formats_succeed(
    capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    path = SHARED_CASES / "seed-001-post-acdf-radiculopathy.yaml"
    code, out, err = run(capsys, "assess", str(path), *options)
    assert code == 0, err
    assert out.strip()
    assert "Traceback" not in out + err


def test_assess_json_case_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(minimal_case()), encoding="utf-8")
    code, out, err = run(capsys, "assess", str(path), "--format", "json")
    assert code == 0, err
    check_contract(json.loads(out), "cli-test")


def test_assess_reviews_a_proposed_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    order = "MRI cervical spine without IV contrast"
    path = write_case(tmp_path, minimal_case(proposed_order=order))
    code, out, err = run(capsys, "assess", str(path), "--format", "json")
    assert code == 0, err
    review = json.loads(out)["order_review"]
    assert {"order", "category", "verdict", "alternatives", "reasons"} <= set(review)
    assert review["order"] == order
    assert review["verdict"] in VERDICTS


def test_assess_reports_the_knowledge_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kb: KnowledgeBase
) -> None:
    code, out, _ = run(capsys, "assess", str(write_case(tmp_path, minimal_case())), "-f", "json")
    assert code == 0
    assert json.loads(out)["knowledge_version"] == kb.version


# --- bad cases (in-process) -----------------------------------------------------------


@pytest.mark.parametrize(("path", "mentions"), _bad_case_params())
def test_bad_case_file_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], path: Path, mentions: list[str]
) -> None:
    code, out, err = run(capsys, "assess", str(path), "--format", "json")
    assert code == 2
    assert out == ""
    assert err.startswith("error:")
    assert "Traceback" not in out + err
    for word in mentions:
        assert word.lower() in err.lower(), f"stderr lacks {word!r}:\n{err}"


def test_bad_case_lists_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = minimal_case(findings={"fevr": True}, complaint=["nek_pain"])
    code, _, err = run(capsys, "assess", str(write_case(tmp_path, data)))
    assert code == 2
    assert "findings.fevr" in err
    assert "complaint: unknown complaint 'nek_pain'" in err
    assert "neck_pain" in err


def test_broken_yaml_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("age: 55\nsurgeries: [\n  - procedure: acdf\n", encoding="utf-8")
    code, _, err = run(capsys, "assess", str(path))
    assert code == 2
    assert "not valid YAML" in err
    assert "b.yaml:" in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "assess", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert out == ""
    assert "cannot be read" in err
    assert "nope.yaml" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "mapping"), (b"\xff\xfe\x00 not text", "UTF-8"), (b"just a sentence", "mapping")],
    ids=["empty", "binary", "scalar"],
)
def test_unusable_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "case.yaml"
    path.write_bytes(content)
    code, out, err = run(capsys, "assess", str(path))
    assert code == 2
    assert out == ""
    assert says in err
    assert "Traceback" not in err


def test_directory_instead_of_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "assess", str(tmp_path))
    assert code == 2
    assert "cannot be read" in err


@pytest.mark.parametrize(
    "argv",
    [["assess", "--bogus", "x.yaml"], ["assess"], ["asses", "x.yaml"], ["kb", "nonsense"]],
    ids=["unknown-option", "missing-argument", "unknown-command", "unknown-subcommand"],
)
def test_usage_errors_are_not_tracebacks(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in out + err
    assert "Usage" in out + err


# --- vocab and kb (in-process) --------------------------------------------------------


def test_vocab_lists_terms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "vocab")
    assert code == 0
    for term in ("hoffmann_sign", "fever", "acdf", "screw_backout", "physical_therapy"):
        assert term in out


def test_vocab_of_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "vocab", "finding")
    assert code == 0
    assert "hoffmann_sign" in out
    assert "lumbar_fusion" not in out  # a procedure


def test_vocab_unknown_kind_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "vocab", "findng")
    assert code == 2
    assert out == ""
    assert "'findng' is not a kind" in err
    assert "Did you mean: finding?" in err
    assert "Traceback" not in err


def test_kb_version(capsys: pytest.CaptureFixture[str], kb: KnowledgeBase) -> None:
    code, out, _ = run(capsys, "kb", "version")
    assert code == 0
    assert VERSION.match(out.strip()), out
    assert out.strip() == kb.version
    assert out.startswith("0.1.0+")


def test_kb_procedures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "kb", "procedures")
    assert code == 0
    names = out.splitlines()
    assert "CT cervical spine without IV contrast" in names
    assert "MRI cervical spine without IV contrast" in names
    assert "Radiography cervical spine" in names
    assert names == sorted(names)
    assert len(names) == len(set(names))


# --- the installed script (subprocess; kept few, ~0.5 s each) -------------------------


@needs_bin
@needs_shared
def test_installed_script_assesses_a_case() -> None:
    path = SHARED_CASES / "seed-001-post-acdf-radiculopathy.yaml"
    proc = spinecds("assess", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    check_contract(json.loads(proc.stdout), "seed-001-post-acdf-radiculopathy")


@needs_bin
def test_installed_script_bad_case_exits_2_without_traceback(tmp_path: Path) -> None:
    proc = spinecds("assess", str(write_case(tmp_path, minimal_case(findings={"fevr": True}))))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "findings.fevr" in proc.stderr
    assert "fever" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@needs_bin
def test_installed_script_unknown_option(tmp_path: Path) -> None:
    proc = spinecds("assess", str(tmp_path / "x.yaml"), "--bogus")
    assert proc.returncode != 0
    assert "--bogus" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def _acceptance(folder: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
    proc = subprocess.run(
        [sys.executable, str(CHECK_CASES), str(folder), "--cli", str(BIN)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    return proc, len(expected)


@needs_bin
@needs_check
def test_acceptance_script_passes_on_bad_cases() -> None:
    proc, n = _acceptance(BAD_CASES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"{n} passed, 0 failed"


@needs_bin
@needs_check
@needs_shared
def test_acceptance_script_passes_on_shared_cases() -> None:
    proc, n = _acceptance(SHARED_CASES)
    assert n >= 3
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"{n} passed, 0 failed"
