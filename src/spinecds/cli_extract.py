"""``spinecds extract`` and the free-text half of ``spinecds assess --text``.

Only typer and light modules load here; the spaCy pipeline loads inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spinecds.errors import CaseError, FieldProblem

if TYPE_CHECKING:
    from spinecds.nlp.merge import Merged
    from spinecds.nlp.model import Extraction

__all__ = ["TextInput", "extract_command", "parse_today", "read_texts", "with_texts"]


class ExtractFormat(StrEnum):
    json = "json"
    text = "text"


def extract_command(
    files: Annotated[list[Path], typer.Argument(help="Clinic notes, messages or reports.")],
    fmt: Annotated[
        ExtractFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExtractFormat.json,
    today: Annotated[
        str | None, typer.Option(help="Date of reading, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Read free text: a case fragment, and for each finding its words, span and assertion."""
    from spinecds.knowledge.loader import default_kb
    from spinecds.nlp import extract
    from spinecds.nlp.report import render_extraction

    texts, names = read_texts(files)
    extraction = extract(texts, names=names, today=parse_today(today))
    if fmt is ExtractFormat.json:
        typer.echo(json.dumps(extraction.to_json_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(render_extraction(extraction, default_kb().vocabulary))


def read_texts(paths: Sequence[Path]) -> tuple[list[str], list[str]]:
    """The texts of ``paths`` and their names; unreadable files are a CaseError."""
    texts, problems = [], []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(FieldProblem(str(path), exc.strerror or str(exc), "check the path"))
        except UnicodeDecodeError:
            problems.append(FieldProblem(str(path), "is not UTF-8 text.", "save it as UTF-8"))
    empty = [p for p, t in zip(paths, texts, strict=False) if not t.strip()]
    problems += [FieldProblem(str(p), "is empty.", "give a file with the note") for p in empty]
    if problems:
        raise CaseError("The text files cannot be read.", problems)
    return texts, [str(p) for p in paths]


def parse_today(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CaseError(
            "The date of reading is not a date.",
            [FieldProblem("--today", f"{value!r} is not YYYY-MM-DD.", "e.g. --today 2026-11-21")],
        ) from None


@dataclass
class TextInput:
    """A case merged from texts (and a case file), with where each part came from."""

    data: dict[str, Any]
    extraction: Extraction
    merged: Merged

    def report(self, fmt: str) -> str:
        from spinecds.knowledge.loader import default_kb
        from spinecds.nlp.report import render_sources

        return render_sources(self.merged, self.extraction, default_kb().vocabulary, fmt)

    def json_dict(self) -> dict[str, Any]:
        return {"extraction": self.extraction.to_json_dict(), **self.merged.to_json_dict()}


def with_texts(case: Any, paths: Sequence[Path], today: str | None) -> TextInput:
    """Read ``paths`` and merge them into ``case`` (None: the texts alone); values of the
    case win. Raises CaseError when the result still lacks what every case needs."""
    from spinecds.nlp import extract
    from spinecds.nlp.merge import merge_case

    if case is not None and not isinstance(case, dict):
        raise CaseError(
            "A case must be a mapping of fields (YAML or JSON object).",
            [FieldProblem("case", f"got {type(case).__name__}", "see ../shared/case-format.md")],
        )
    texts, names = read_texts(paths)
    extraction = extract(texts, names=names, today=parse_today(today))
    merged = merge_case(case, extraction)
    _require(merged.data, extraction)
    return TextInput(merged.data, extraction, merged)


def _require(data: dict[str, Any], extraction: Extraction) -> None:
    problems = []
    if "surgeries" not in data:
        problems.append(
            FieldProblem(
                "surgeries",
                "no case file gives it and the texts name no spine operation.",
                "give a case file with surgeries ([] if there was none), or a text naming it.",
            )
        )
    if not data.get("complaint"):
        problems.append(
            FieldProblem(
                "complaint",
                "no case file gives it and the texts state no current complaint.",
                "give a case file with complaint, e.g. [neck_pain].",
            )
        )
    if problems:
        problems += [FieldProblem(u.source, u.problem, u.fix) for u in extraction.unresolved]
        raise CaseError("The texts do not give everything a case needs.", problems)
