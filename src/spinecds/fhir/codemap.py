"""The code map (``kb/fhir/codes.yaml``) and its reading rules (``kb/fhir/mapping.yaml``).

``codes.yaml`` is a verbatim copy of ``../shared/codes/codes.yaml``: every code there was seen,
with its meaning, in a cited source, and no other code is used. This module indexes it once
per knowledge base so that a lookup is a dictionary access (batch runs read millions of
codings). Comparison follows the map's conventions: case-insensitive, the ICD-10-CM dot
optional, ``match: prefix`` entries only after exact matches fail, longest prefix first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["CodeEntry", "CodeMap", "code_map", "load_code_map", "norm_code", "norm_system"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CODES_FILE = "fhir/codes.yaml"
MAPPING_FILE = "fhir/mapping.yaml"
# Sections of codes.yaml and the kind of entry each holds.
SECTIONS = {"surgeries": "surgery", "conditions": "condition", "observations": "observation"}


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One code of the map. ``terms`` are namespaced (``finding:fever``); imaging entries
    carry the ACR ``procedure`` with its ``study`` and ``region`` instead."""

    kind: str  # imaging | surgery | condition | observation
    system: str
    code: str
    display: str
    terms: tuple[str, ...] = ()
    procedure: str | None = None
    study: str | None = None
    region: str | None = None
    prefix: bool = False
    # Why the code alone must not assert its term: "ambiguous" (several terms, narrowable by
    # bodySite/approach), or the entry's caution text (only corroborated by another code).
    ambiguous: bool = False
    caution: str | None = None
    rule: str | None = None
    finding_if_high: str | None = None
    differential: str | None = None  # a diagnosis the code also names (M96.0, G06.1)
    informational: str | None = None
    where: str = ""  # section and group in codes.yaml, for messages

    @property
    def label(self) -> str:
        return f"{self.code} '{self.display}'"


@dataclass(frozen=True)
class CodeMap:
    version: str
    entries: tuple[CodeEntry, ...]
    exact: Mapping[tuple[str, str], tuple[CodeEntry, ...]]
    prefixes: Mapping[str, tuple[tuple[str, CodeEntry], ...]]  # system -> longest first
    icd10_systems: frozenset[str]
    system_rank: Mapping[str, int]
    rules: Mapping[str, Any]  # mapping.yaml as loaded
    pcs: tuple[tuple[str, tuple[str, ...], Mapping[str, str]], ...]
    # ACR procedure -> (case-format study term or None, region of its group)
    imaging_groups: Mapping[str, tuple[str | None, str | None]]

    def lookup(self, system: str | None, code: str | None) -> tuple[CodeEntry, ...]:
        """Entries for one coding: exact match, else the longest matching prefix entries."""
        if not system or not code:
            return ()
        sys_key = norm_system(system)
        key = norm_code(code, sys_key in self.icd10_systems)
        found = self.exact.get((sys_key, key))
        if not found:
            found, best = (), 0
            for prefix, entry in self.prefixes.get(sys_key, ()):  # longest first
                if len(prefix) < best:
                    break
                if key.startswith(prefix):
                    found, best = (*found, entry), len(prefix)
        return self._pcs(sys_key, key, found) if found and any(e.rule for e in found) else found

    def _pcs(self, system: str, code: str, found: tuple[CodeEntry, ...]) -> tuple[CodeEntry, ...]:
        """ICD-10-PCS fusion codes: the 7th character decides between the listed procedures."""
        for pcs_system, prefixes, by_char in self.pcs:
            if system != pcs_system or not code.startswith(prefixes):
                continue
            term = by_char.get(code[6]) if len(code) == 7 else None
            if term is None:  # too short or an unlisted character: the approach is not known
                terms = tuple(dict.fromkeys(t for e in found for t in e.terms))
                return (replace(found[0], terms=terms, ambiguous=True, rule=None),)
            chosen = [e for e in found if term in e.terms] or [found[0]]
            return (replace(chosen[0], terms=(term,), ambiguous=False, rule=None),)
        return found


@lru_cache(maxsize=1024)  # few distinct systems; called for every coding
def norm_system(system: str) -> str:
    return system.strip().rstrip("/").lower()


def norm_code(code: str, icd10: bool) -> str:
    key = code.strip().upper()
    return key.replace(".", "") if icd10 else key


@cache
def _load(root: str) -> CodeMap:
    return load_code_map(Path(root))


def code_map(kb: KnowledgeBase) -> CodeMap:
    """The code map of this knowledge base, loaded once per process."""
    return _load(str(kb.root))


def load_code_map(root: Path) -> CodeMap:
    codes = _read(root, CODES_FILE)
    rules = _read(root, MAPPING_FILE)
    systems = rules.get("code_systems") or []
    icd10 = frozenset(norm_system(s["system"]) for s in systems if s.get("compare") == "icd10")
    informational = {
        (norm_system(i["system"]), norm_code(i["code"], norm_system(i["system"]) in icd10)): i[
            "note"
        ]
        for i in rules.get("informational") or []
    }
    entries = tuple(_entries(codes, informational, icd10))
    exact: dict[tuple[str, str], tuple[CodeEntry, ...]] = {}
    prefixes: dict[str, list[tuple[str, CodeEntry]]] = {}
    for e in entries:
        sys_key = norm_system(e.system)
        key = norm_code(e.code, sys_key in icd10)
        if e.prefix:
            prefixes.setdefault(sys_key, []).append((key, e))
        else:
            exact[(sys_key, key)] = (*exact.get((sys_key, key), ()), e)
    pcs = tuple(
        (norm_system(r["system"]), tuple(p.upper() for p in r["prefixes"]), r["by_character"])
        for r in rules.get("pcs_seventh_character") or []
    )
    return CodeMap(
        version=str(codes.get("version", "")),
        entries=entries,
        exact=exact,
        prefixes={s: tuple(sorted(v, key=lambda p: -len(p[0]))) for s, v in prefixes.items()},
        icd10_systems=icd10,
        system_rank={norm_system(s["system"]): i for i, s in enumerate(systems)},
        rules=rules,
        pcs=pcs,
        imaging_groups={e.procedure: (e.study, e.region) for e in entries if e.procedure},
    )


def _read(root: Path, name: str) -> dict[str, Any]:
    path = root / name
    try:
        data = yaml.load(path.read_bytes(), Loader=_Loader)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(
            "The FHIR code map cannot be read.",
            [FieldProblem(name, str(exc), "reinstall spinecds or fix the YAML")],
        ) from None
    if not isinstance(data, dict):
        raise KnowledgeBaseError(
            "The FHIR code map has the wrong shape.", [FieldProblem(name, "must be a mapping.")]
        )
    return data


def _entries(
    codes: Mapping[str, Any], informational: Mapping[tuple[str, str], str], icd10: frozenset[str]
) -> list[CodeEntry]:
    out: list[CodeEntry] = []
    for i, group in enumerate(codes.get("imaging_procedures") or []):
        for raw in group.get("codes") or []:
            out.append(
                CodeEntry(
                    kind="imaging",
                    system=raw["code_system"],
                    code=str(raw["code"]),
                    display=str(raw.get("display", "")),
                    procedure=str(raw["maps_to"]),
                    study=group.get("study"),
                    region=group.get("region"),
                    prefix=raw.get("match") == "prefix",
                    where=f"imaging_procedures[{i}] ({group.get('acr_procedure')})",
                )
            )
    for section, kind in SECTIONS.items():
        for group, items in (codes.get(section) or {}).items():
            for raw in items:
                out.append(_entry(kind, f"{section}.{group}", raw, informational, icd10))
    return out


_TERM = re.compile(r"^[a-z_]+:[A-Za-z_]+$")


def _entry(
    kind: str,
    where: str,
    raw: Mapping[str, Any],
    informational: Mapping[tuple[str, str], str],
    icd10: frozenset[str],
) -> CodeEntry:
    maps_to = raw["maps_to"]
    terms = tuple(str(t) for t in maps_to) if isinstance(maps_to, list) else (str(maps_to),)
    sys_key = norm_system(raw["code_system"])
    info = informational.get((sys_key, norm_code(str(raw["code"]), sys_key in icd10)))
    if info is None and not all(_TERM.match(t) for t in terms):
        info = f"maps to {maps_to!r}, which is not a term"  # reported by `kb check` too
    return CodeEntry(
        kind=kind,
        system=raw["code_system"],
        code=str(raw["code"]),
        display=str(raw.get("display", "")),
        terms=() if info else terms,
        prefix=raw.get("match") == "prefix",
        ambiguous=bool(raw.get("ambiguous")) or len(terms) > 1,
        caution=raw.get("caution"),
        rule=raw.get("rule"),
        finding_if_high=raw.get("finding_if_high"),
        differential=raw.get("differential"),
        informational=info,
        where=where,
    )
