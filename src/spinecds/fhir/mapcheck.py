"""``spinecds kb check`` for the FHIR code map: every code maps to something the KB knows.

Fails on a ``maps_to`` that is neither a vocabulary term nor an ACR procedure name (unless
mapping.yaml lists the code as informational), a study, ``finding_if_high`` or
``differential`` that is not a term, and reading rules in mapping.yaml that name unknown
terms or code systems. Each problem names the file and the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.fhir.codemap import CODES_FILE, MAPPING_FILE, load_code_map, norm_system
from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["check_code_map"]


def check_code_map(kb: KnowledgeBase) -> list[FieldProblem]:
    try:
        cmap = load_code_map(kb.root)  # fresh: a check must see the files as they are now
    except KnowledgeBaseError as exc:
        return exc.problems
    problems: list[FieldProblem] = []
    vocab = kb.vocabulary

    def term_problem(where: str, term: Any) -> None:
        kind, _, name = str(term).partition(":")
        if not (name and vocab.has(kind, name)):
            problems.append(
                FieldProblem(
                    where,
                    f"names {term!r}, which is not a vocabulary term.",
                    "use kind:term with a term from `spinecds vocab`",
                )
            )

    known_systems = set(cmap.system_rank)
    for e in cmap.entries:
        where = f"{CODES_FILE}: {e.where} {e.code}"
        if norm_system(e.system) not in known_systems:
            problems.append(
                FieldProblem(
                    where, f"code system {e.system} is not in {MAPPING_FILE} code_systems."
                )
            )
        if e.kind == "imaging":
            if str(e.procedure).lower() not in kb.procedures:
                problems.append(
                    FieldProblem(
                        where,
                        f"maps to {e.procedure!r}, which is not an ACR procedure name.",
                        "use a name from `spinecds kb procedures`",
                    )
                )
            if e.study is not None:
                term_problem(where, f"study:{e.study}")
            continue
        if e.informational and e.informational.startswith("maps to"):
            problems.append(
                FieldProblem(
                    where, e.informational + ".", f"list it under `informational` in {MAPPING_FILE}"
                )
            )
        for term in e.terms:
            term_problem(where, term)
        if e.finding_if_high:
            term_problem(where, f"finding:{e.finding_if_high}")
        if e.differential:
            term_problem(where, f"differential:{e.differential}")
    problems.extend(_rules(cmap.rules, term_problem, known_systems))
    return problems


def _rules(
    rules: Mapping[str, Any], term_problem: Callable[[str, Any], None], known_systems: set[str]
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for key in ("text_phrases", "device_phrases", "allergy_phrases"):
        for term in rules.get(key) or {}:
            term_problem(f"{MAPPING_FILE}: {key}.{term}", term)
    for name in rules.get("history_findings") or []:
        term_problem(f"{MAPPING_FILE}: history_findings", f"finding:{name}")
    for i, rule in enumerate(rules.get("pcs_seventh_character") or []):
        for char, term in (rule.get("by_character") or {}).items():
            term_problem(f"{MAPPING_FILE}: pcs_seventh_character[{i}].{char}", term)
    for i, item in enumerate(_listed(rules.get("informational"))):
        if norm_system(str(item.get("system", ""))) not in known_systems:
            problems.append(
                FieldProblem(f"{MAPPING_FILE}: informational[{i}]", "names an unknown code system.")
            )
    return problems


def _listed(value: Any) -> Iterable[dict[str, Any]]:
    return [v for v in value or [] if isinstance(v, dict)]
