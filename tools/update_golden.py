"""Regenerate tests/golden/*.expected.json after a reviewed change to the knowledge base.

Every regenerated file must be read by a clinician reviewer before it is committed: the
golden files are the hand-checked answers, not a snapshot to refresh blindly.
Usage: .venv/bin/python tools/update_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from spinecds import assess, default_kb, parse_case
from spinecds.cli import read_case_file

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
VOLATILE = ("knowledge_version",)


def golden_json(case_path: Path) -> dict[str, object]:
    kb = default_kb()
    assessment = assess(parse_case(read_case_file(case_path), kb.vocabulary, kb.procedures), kb)
    data = assessment.to_json_dict()
    for key in VOLATILE:
        data.pop(key, None)
    return data


def main() -> None:
    for case_path in sorted(GOLDEN.glob("*.yaml")):
        out = case_path.with_suffix(".expected.json")
        out.write_text(json.dumps(golden_json(case_path), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out.relative_to(GOLDEN.parents[1])}")


if __name__ == "__main__":
    main()
