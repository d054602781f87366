"""Import the ACR Appropriateness Criteria tables into the spinecds knowledge base.

Reads the shared research snapshot ``acr_tables.json`` and writes one YAML file per ACR
topic into ``src/spinecds/kb/acr/``. Procedure names, category labels, ratings, medians,
SOE and RRL are copied verbatim (they are ACR names and data). Variant descriptions are
NOT copied: each is replaced by our own summary from ``tools/acr_descriptions.yaml``, and
the import refuses to run if a variant lacks one (or if a summary is a near-copy of the
ACR sentence).

Usage (from the repository root)::

    .venv/bin/python tools/import_acr.py                  # default ../shared/acr/acr_tables.json
    .venv/bin/python tools/import_acr.py path/to/acr_tables.json
    .venv/bin/python tools/import_acr.py --check          # exit 1 if the KB files are stale

The output is deterministic: rerunning on the same inputs rewrites nothing.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TABLES = "../shared/acr/acr_tables.json"
DEFAULT_DESCRIPTIONS = "tools/acr_descriptions.yaml"
DEFAULT_REFERENCES = "../shared/evidence/references.yaml"
DEFAULT_OUT_DIR = "src/spinecds/kb/acr"

#: A summary at least this similar to the ACR sentence (0..1: difflib ratio over the
#: normalised word sequences) is treated as a copy, not our own words. Clinical terms
#: (radiculopathy, red flags, ...) must be kept, so some overlap is expected.
MAX_SIMILARITY = 0.7


@dataclass(frozen=True)
class TopicSpec:
    """How one ACR topic (identified by its ``source_id``) maps into the knowledge base."""

    key: str
    references: tuple[str, ...]
    notes: str
    references_comment: str = ""


# Keyed by the topic's ``source_id`` in acr_tables.json (topic titles carry editorial
# suffixes such as "(selected variants)", source ids do not).
TOPICS: dict[str, TopicSpec] = {
    "S1": TopicSpec(
        key="cervical_pain",
        references=("acr-2025-cervical-pain-update",),
        notes=(
            "Current ACR revision: the 2024 update, published in May 2025. It replaces the 2019 "
            "table kept in cervical_pain_2019.yaml. Variant 3 is the one for patients who have "
            "had cervical spine surgery. Discography cervical spine has no rating in variants 2 "
            "and 6. Ratings, medians and SOE come from a third-party export of ACR data (S2); "
            "the categories were cross-checked against a January 2026 scrape of the ACR portal "
            "(S3): 23 decision-support scenarios, 382 procedure categories, no mismatch."
        ),
    ),
    "S4": TopicSpec(
        key="myelopathy",
        references=("acr-2021-myelopathy",),
        notes=(
            "ACR labels this document as revised in 2020; it appeared in JACR in May 2021 as the "
            "2021 update, hence revision_year 2020. It has only two variants (acute; chronic or "
            "progressive) and neither is about earlier spine surgery. Procedures are named for "
            "the spine area of interest, so CT, radiography and arteriography carry the RRL "
            "'Varies'. Two MRA medians are missing in the source (null). Categories "
            "cross-checked against S3: 12 scenarios, 144 procedure categories, no mismatch."
        ),
    ),
    "S5": TopicSpec(
        key="spine_infection",
        references=("acr-2021-suspected-spine-infection",),
        notes=(
            "Variant 2 (infection suspected after a recent procedure such as surgery, with or "
            "without implants) is the one that covers postoperative infection. revision_year is "
            "the publication year (2021). Variants 1, 2 and 4 share the same category pattern, "
            "so S3 scenarios could not be assigned to them one by one; across 97 scenarios "
            "(890 procedure categories) no mismatch was found."
        ),
    ),
    "S6": TopicSpec(
        key="spinal_trauma",
        references=(
            "nordin-2008-bjd-neck-pain-assessment",
            "feller-2024-neck-pain-red-flags-guidelines-sr",
        ),
        references_comment=(
            "references.yaml has no entry for the ACR Acute Spinal Trauma document itself;\n"
            "these two are related neck-pain assessment and red-flag sources."
        ),
        notes=(
            "2024 update; this topic replaced the older 'Suspected Spine Trauma'. Variants 1-4 "
            "and 7 concern the cervical spine, variant 5 any spinal region, and variant 6 only "
            "the thoracic and lumbar spine (kept so that the topic is complete). No variant deals "
            "with earlier spine surgery or implants. Categories cross-checked against S3: 48 "
            "scenarios, 594 procedure categories, no mismatch."
        ),
    ),
    "S7": TopicSpec(
        key="low_back_pain",
        references=(),
        references_comment=(
            "Empty on purpose: references.yaml has no entry for the ACR Low Back Pain document."
        ),
        notes=(
            "2021 update. Variant 5 covers earlier lumbar surgery; variant 7 covers suspected "
            "cancer, suspected infection or immunosuppression. Categories cross-checked against "
            "S3: 15 scenarios, 150 procedure categories, no mismatch."
        ),
    ),
    "S8": TopicSpec(
        key="thoracic_back_pain",
        references=(),
        references_comment=(
            "Empty on purpose: references.yaml has no entry for the ACR Thoracic Back Pain "
            "document."
        ),
        notes=(
            "Partial topic: only variant 5 (suspected cancer or infection, or immunosuppression) "
            "and variant 7 (follow-up after thoracic spine surgery) were extracted; the other "
            "variants are not in the knowledge base. revision_year is the publication year "
            "(2024). Not cross-checked against S3."
        ),
    ),
    "S9": TopicSpec(
        key="vertebral_compression_fracture",
        references=(),
        references_comment=(
            "Empty on purpose: references.yaml has no entry for the ACR Management of Vertebral\n"
            "Compression Fractures document."
        ),
        notes=(
            "Partial topic: only the two imaging variants for patients with a history of cancer "
            "(2 and 4) were extracted. The revision year was not found in anything read (null). "
            "Not cross-checked against S3."
        ),
    ),
    "S10_prev": TopicSpec(
        key="cervical_pain_2019",
        references=("acr-2019-cervical-neck-pain-radiculopathy",),
        notes=(
            "SUPERSEDED by cervical_pain.yaml (2024 update); kept only for regression and "
            "comparison, never for recommendations. This is the earlier ACR cervical table, "
            "published in JACR in May 2019; its revision label was never seen, so revision_year "
            "is null. The source is an August 2020 scrape with categories and RRL only: variant "
            "numbers and numeric ratings are absent, so number, rating, median and soe are null "
            "and the variant keys v1-v9 follow the order of acr_tables.json."
        ),
    ),
}


class ImportFailed(Exception):
    """A problem with the inputs; reported to the user without a traceback."""


def _resolve(path: str) -> Path:
    """Resolve a CLI path: relative paths are taken from the repository root."""
    p = Path(path)
    return p if p.is_absolute() else (REPO_ROOT / p).resolve()


def _display(path: Path) -> str:
    """A stable, repository-relative spelling of ``path`` for generated headers."""
    return Path(os.path.relpath(path, REPO_ROOT)).as_posix()


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def similarity(ours: str, acr: str) -> float:
    """Word-sequence similarity of two descriptions (1.0 = same words in the same order)."""
    return difflib.SequenceMatcher(None, _words(ours), _words(acr), autojunk=False).ratio()


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImportFailed(f"{path}: not found (pass the tables path as an argument)") from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise ImportFailed(f"{path}: expected an object with a 'topics' list")
    return data


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImportFailed(f"{path}: not found") from exc
    except yaml.YAMLError as exc:
        raise ImportFailed(f"{path}: not valid YAML: {exc}") from exc


def load_descriptions(path: Path) -> dict[str, dict[str, str]]:
    """Read ``topic_key -> {variant_key: description}`` and check its shape."""
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise ImportFailed(f"{path}: expected a mapping topic_key -> {{variant_key: text}}")
    out: dict[str, dict[str, str]] = {}
    for topic_key, variants in raw.items():
        if not isinstance(variants, dict):
            raise ImportFailed(f"{path}: {topic_key}: expected a mapping variant_key -> text")
        out[str(topic_key)] = {}
        for variant_key, text in variants.items():
            if not isinstance(text, str) or not text.strip():
                raise ImportFailed(f"{path}: {variant_key}: description must be non-empty text")
            out[str(topic_key)][str(variant_key)] = " ".join(text.split())
    return out


def load_reference_ids(path: Path) -> set[str]:
    raw = _load_yaml(path)
    if not isinstance(raw, list):
        raise ImportFailed(f"{path}: expected a YAML list of references")
    return {str(entry["id"]) for entry in raw if isinstance(entry, dict) and "id" in entry}


def variant_keys(topic_key: str, variants: Sequence[Mapping[str, Any]]) -> list[str]:
    """``<topic>.<number>``; for topics without variant numbers, ``<topic>.v1..vN``."""
    numbers = [v.get("number") for v in variants]
    if all(n is None for n in numbers):
        return [f"{topic_key}.v{i}" for i in range(1, len(variants) + 1)]
    if any(not isinstance(n, int) for n in numbers) or len(set(numbers)) != len(numbers):
        raise ImportFailed(f"{topic_key}: variant numbers must be all null or unique integers")
    return [f"{topic_key}.{n}" for n in numbers]


def build_topic(
    topic: Mapping[str, Any],
    spec: TopicSpec,
    sources: Mapping[str, Mapping[str, Any]],
    descriptions: Mapping[str, str],
    problems: list[str],
    descriptions_file: str = DEFAULT_DESCRIPTIONS,
) -> dict[str, Any]:
    """The knowledge-base document for one topic (problems are appended, not raised)."""
    source = sources.get(topic["source_id"])
    if source is None:
        problems.append(f"{spec.key}: source {topic['source_id']!r} not in 'sources'")
        source = {"id": topic["source_id"], "title": None, "url": None}
    variants_out: list[dict[str, Any]] = []
    keys = variant_keys(spec.key, topic["variants"])
    for vkey, variant in zip(keys, topic["variants"], strict=True):
        text = descriptions.get(vkey)
        if text is None:
            problems.append(f"{vkey}: no our-words description in {descriptions_file}")
            text = ""
        elif (ratio := similarity(text, variant["description"])) >= MAX_SIMILARITY:
            problems.append(
                f"{vkey}: description is {ratio:.0%} similar to the ACR sentence; "
                "rewrite it in our own words"
            )
        variants_out.append(
            {
                "key": vkey,
                "number": variant.get("number"),
                "description": text,
                "ratings": [
                    {
                        "procedure": p["procedure"],
                        "category": p["category"],
                        "rating": p.get("rating"),
                        "median": p.get("median"),
                        "soe": p.get("soe"),
                        "rrl": p.get("rrl"),
                        "rrl_dose": p.get("rrl_adult_dose"),
                    }
                    for p in variant["procedures"]
                ],
            }
        )
    stale = sorted(set(descriptions) - set(keys))
    problems.extend(f"{k}: description has no matching ACR variant (stale?)" for k in stale)
    return {
        "key": spec.key,
        "topic": topic["topic"],
        "revision_year": topic.get("revision_year"),
        "superseded": bool(topic.get("superseded", False)),
        "source": {"id": source["id"], "title": source["title"], "url": source["url"]},
        "data_source": topic.get("data_source_id"),
        "references": list(spec.references),
        "notes": spec.notes,
        "variants": variants_out,
    }


def _dump(mapping: dict[str, Any]) -> str:
    return yaml.safe_dump(
        mapping, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )


def render(doc: dict[str, Any], spec: TopicSpec, tables: str, descriptions: str) -> str:
    """YAML text for one topic, with a generated-file header and comments."""
    head = {k: doc[k] for k in ("key", "topic", "revision_year", "superseded", "source")}
    head["data_source"] = doc["data_source"]
    comment = "".join(f"# {line}\n" for line in spec.references_comment.splitlines())
    return (
        f"# Generated by tools/import_acr.py from {tables}; "
        f"descriptions from {descriptions} (our words).\n"
        "# Do not edit by hand: change the inputs and rerun the script. Procedure names and\n"
        "# category labels are ACR names, copied verbatim; descriptions and notes are ours.\n"
        + _dump(head)
        + comment
        + _dump({"references": doc["references"]})
        + _dump({"notes": doc["notes"], "variants": doc["variants"]})
    )


def generate(tables_path: Path, descriptions_path: Path, references_path: Path) -> dict[str, str]:
    """File name -> YAML text for every topic; raises ImportFailed listing every problem."""
    tables = _load_json(tables_path)
    descriptions = load_descriptions(descriptions_path)
    reference_ids = load_reference_ids(references_path)
    sources = {s["id"]: s for s in tables.get("sources", [])}
    problems: list[str] = []
    files: dict[str, str] = {}
    seen: set[str] = set()
    for topic in tables["topics"]:
        spec = TOPICS.get(topic.get("source_id", ""))
        if spec is None:
            problems.append(
                f"topic {topic.get('topic')!r} (source {topic.get('source_id')!r}) has no entry "
                "in TOPICS in tools/import_acr.py; add its key, references and notes"
            )
            continue
        if spec.key in seen:
            problems.append(f"{spec.key}: two topics map to the same key")
            continue
        seen.add(spec.key)
        problems.extend(
            f"{spec.key}: reference id {ref!r} not in {_display(references_path)}"
            for ref in spec.references
            if ref not in reference_ids
        )
        doc = build_topic(
            topic,
            spec,
            sources,
            descriptions.get(spec.key, {}),
            problems,
            _display(descriptions_path),
        )
        files[f"{spec.key}.yaml"] = render(
            doc, spec, _display(tables_path), _display(descriptions_path)
        )
    problems.extend(
        f"{key}: descriptions given for a topic that is not in the tables"
        for key in sorted(set(descriptions) - seen)
    )
    if problems:
        raise ImportFailed("\n".join(f"  - {p}" for p in problems))
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "tables", nargs="?", default=DEFAULT_TABLES, help="acr_tables.json (default: %(default)s)"
    )
    parser.add_argument("--descriptions", default=DEFAULT_DESCRIPTIONS, help="%(default)s")
    parser.add_argument("--references", default=DEFAULT_REFERENCES, help="%(default)s")
    parser.add_argument("--out-dir", default=DEFAULT_OUT_DIR, help="%(default)s")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file would change"
    )
    args = parser.parse_args(argv)
    out_dir = _resolve(args.out_dir)
    try:
        files = generate(
            _resolve(args.tables), _resolve(args.descriptions), _resolve(args.references)
        )
    except ImportFailed as exc:
        print(f"import_acr: refusing to write the ACR knowledge base:\n{exc}", file=sys.stderr)
        return 1

    changed = [
        name
        for name, text in files.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    extra = sorted(p.name for p in out_dir.glob("*.yaml") if p.name not in files)
    for name in extra:
        print(
            f"import_acr: warning: {out_dir / name} is not generated by this script",
            file=sys.stderr,
        )
    if args.check:
        for name in changed:
            print(f"import_acr: out of date: {out_dir / name}", file=sys.stderr)
        return 1 if changed else 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in changed:
        (out_dir / name).write_text(files[name], encoding="utf-8")
    print(f"import_acr: {len(files)} topic files in {_display(out_dir)}; {len(changed)} updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
