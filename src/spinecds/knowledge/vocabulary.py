"""Read access to ``kb/vocabulary.yaml``: every term a case, rule or assessment may use."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Term", "Vocabulary"]


@dataclass(frozen=True, slots=True)
class Term:
    kind: str
    id: str
    label: str
    plain: str
    origin: str
    attrs: Mapping[str, Any]


class Vocabulary:
    """Terms by kind (``finding``, ``procedure``...), each with labels for people."""

    def __init__(self, terms: Mapping[str, Mapping[str, Term]]) -> None:
        self._terms = terms

    def kinds(self) -> list[str]:
        return list(self._terms)

    def has(self, kind: str, term: str) -> bool:
        return term in self._terms.get(kind, {})

    def ids(self, kind: str) -> list[str]:
        return list(self._terms.get(kind, {}))

    def term(self, kind: str, term: str) -> Term:
        return self._terms[kind][term]

    def attr(self, kind: str, term: str, name: str) -> Any:
        return self._terms[kind][term].attrs.get(name)

    def label(self, kind: str, term: str) -> str:
        found = self._terms.get(kind, {}).get(term)
        return found.label if found else term.replace("_", " ")

    def plain(self, kind: str, term: str) -> str:
        found = self._terms.get(kind, {}).get(term)
        return found.plain if found else term.replace("_", " ")

    def __iter__(self) -> Iterator[Term]:
        for terms in self._terms.values():
            yield from terms.values()
