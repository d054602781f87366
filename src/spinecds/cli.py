"""The ``spinecds`` command line: the one place where user errors are printed.

Exit codes: 0 success, 2 bad case or arguments, 3 knowledge-base problem, 1 unexpected.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from spinecds.case import parse_case
from spinecds.cli_audit import audit_app
from spinecds.cli_serve import serve_command
from spinecds.engine.assess import assess
from spinecds.errors import CaseError, FieldProblem, SpinecdsError
from spinecds.knowledge.loader import default_kb

__all__ = ["app", "main", "read_case_file"]

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Clinical decision support for neck pain after spine surgery.",
)
kb_app = typer.Typer(no_args_is_help=True, help="Inspect and check the knowledge base.")
app.add_typer(kb_app, name="kb")
err = Console(stderr=True, soft_wrap=True)  # messages stay whole in logs and pipes


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class Audience(StrEnum):
    clinician = "clinician"
    patient = "patient"


def read_case_file(path: Path) -> Any:
    """Read a YAML or JSON case file, turning every failure into a CaseError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseError(
            "The case file cannot be read.",
            [FieldProblem(str(path), exc.strerror or str(exc), "check the path")],
        ) from None
    except UnicodeDecodeError:
        raise CaseError(
            "The case file is not UTF-8 text.", [FieldProblem(str(path), "not text", "")]
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = str(getattr(exc, "problem", None) or exc)
        raise CaseError(
            "The case file is not valid YAML or JSON.",
            [FieldProblem(where, problem, "fix the syntax")],
        ) from None


@app.command("assess")
def assess_command(
    case_file: Annotated[Path | None, typer.Argument(help="Case file (YAML or JSON).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    audience: Annotated[Audience, typer.Option(help="Who reads the report.")] = Audience.clinician,
    text: Annotated[
        list[Path] | None,
        typer.Option("--text", help="A note or report to read (repeatable); the case wins."),
    ] = None,
    today: Annotated[str | None, typer.Option(help="Date of reading texts, YYYY-MM-DD.")] = None,
) -> None:
    """Assess one case (a case file, free texts, or both) and print the report."""
    from spinecds.render import render

    kb = default_kb()
    if case_file is None and not text:  # a usage error, printed with the usage line
        raise typer.BadParameter("give a case file, or --text FILE", param_hint="CASE")
    data = read_case_file(case_file) if case_file is not None else None
    texts = None
    if text:  # issue 4: free text merged into the case (spinecds.cli_extract)
        from spinecds.cli_extract import with_texts

        texts = with_texts(data, text, today)
        data = texts.data
    case = parse_case(data, kb.vocabulary, kb.procedures)
    assessment = assess(case, kb)
    if fmt is Format.json and audience is Audience.clinician:
        out = assessment.to_json_dict() | ({"from_text": texts.json_dict()} if texts else {})
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    report = render(assessment, kb, fmt.value, audience.value)
    show_sources = texts is not None and audience is Audience.clinician and fmt is not Format.json
    typer.echo(report + ("\n\n" + texts.report(fmt.value) if texts and show_sources else ""))


@app.command("vocab")
def vocab_command(
    kind: Annotated[str | None, typer.Argument(help="One kind, e.g. finding or procedure.")] = None,
) -> None:
    """List the vocabulary: terms, clinician labels and plain words."""
    kb = default_kb()
    vocab = kb.vocabulary
    kinds = vocab.kinds()
    if kind is not None and kind not in kinds:
        from spinecds.errors import nearest

        raise CaseError(
            "No such vocabulary kind.",
            [
                FieldProblem(
                    "kind",
                    f"{kind!r} is not a kind.",
                    f"use one of: {', '.join(kinds)}",
                    nearest(kind, kinds),
                )
            ],
        )
    table = Table(title=f"spinecds vocabulary {kb.version}")
    for column in ("kind", "term", "label", "plain words", "origin"):
        table.add_column(column)
    for term in vocab:
        if kind is None or term.kind == kind:
            table.add_row(term.kind, term.id, term.label, term.plain, term.origin)
    Console(width=200).print(table)


@kb_app.command("check")
def kb_check_command() -> None:
    """Validate the knowledge base: schema, references, vocabulary, reachability, contradictions."""
    from spinecds.knowledge.check import check_kb

    kb = default_kb()
    report = check_kb(kb)
    for line in report.summary:
        typer.echo(line)
    if report.problems:
        raise SpinecdsError(
            f"Knowledge base check failed with {len(report.problems)} problem(s).",
            report.problems,
            exit_code=3,
        )
    typer.echo(f"knowledge base {kb.version}: OK")


@kb_app.command("procedures")
def kb_procedures_command() -> None:
    """List every ACR procedure name (for proposed_order)."""
    for name in sorted(default_kb().procedures.values()):
        typer.echo(name)


@kb_app.command("version")
def kb_version_command() -> None:
    """Print the knowledge version (semantic version + content hash)."""
    typer.echo(default_kb().version)


# Sub-commands that live in their own modules: one registration line each, below.
# (Their modules import only typer at load; heavy libraries load inside the commands.)
# --- sub-command registrations ---
app.add_typer(audit_app, name="audit")
app.command("serve")(serve_command)
from spinecds.cli_batch import batch_command, synth_command  # noqa: E402 - issue 5 block

app.command("batch")(batch_command)
app.command("synth")(synth_command)
from spinecds.cli_extract import extract_command  # noqa: E402 - issue 4 block

app.command("extract")(extract_command)
# --- end of sub-command registrations ---


def _report(error: SpinecdsError) -> None:
    err.print(f"[bold red]error:[/] {error.message}", highlight=False)
    for problem in error.problems:
        err.print(f"  - {problem}", highlight=False, markup=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, print user errors without a traceback, return the exit code."""
    try:
        app(args=argv, prog_name="spinecds")
    except SystemExit as exc:  # typer/click finish (and report usage errors) this way
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except SpinecdsError as exc:
        _report(exc)
        return exc.exit_code
    return 0
