"""Hypothesis strategies for VALID raw case dicts, built from the knowledge-base vocabulary.

The strategies read the module-level ``KB`` rather than taking the knowledge base as an
argument: Hypothesis labels a composite strategy by the repr of its arguments, and the repr
of a whole knowledge base made generation a hundred times slower.

Every term is read from ``default_kb().vocabulary`` (ids and attributes such as a procedure's
``region`` or a finding's ``type``/``min``/``max``) and from ``kb.procedures``, so the
strategies follow the knowledge base when it grows. The dicts are what a caller would hand
to :func:`spinecds.parse_case`: findings are true, false or left out (occasionally ``null``,
which the case format also reads as unknown).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from spinecds import KnowledgeBase, default_kb

__all__ = [
    "KB",
    "REGION_ORDER",
    "cases",
    "level_texts",
    "painful_region",
    "red_flag_findings",
    "red_flag_imaging_findings",
]

KB: KnowledgeBase = default_kb()
_VOCAB = KB.vocabulary
# Proposed orders: every ACR procedure name in the knowledge base, in a stable order.
_ORDERS: list[str] = sorted(KB.procedures.values())

# The order in which the engine picks the painful region from the complaints
# (spinecds.engine.facts: the first of these that any complaint names).
REGION_ORDER: tuple[str, ...] = ("cervical", "thoracic", "lumbar")

# Imaging findings that count as red flags in the urgency properties, besides the findings
# of the `red_flag` group.
RED_FLAG_IMAGING: tuple[str, ...] = (
    "fracture",
    "cord_compression",
    "epidural_collection",
    "bone_destruction",
)

_VERTEBRAE: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_REGION_OF_LETTER = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "lumbar"}


def red_flag_findings(kb: KnowledgeBase = KB) -> list[str]:
    """Findings whose vocabulary group is ``red_flag``."""
    vocab = kb.vocabulary
    return [f for f in vocab.ids("finding") if vocab.attr("finding", f, "group") == "red_flag"]


def red_flag_imaging_findings(kb: KnowledgeBase = KB) -> list[str]:
    """The imaging findings treated as red flags (only those the vocabulary has)."""
    return [f for f in RED_FLAG_IMAGING if kb.vocabulary.has("imaging_finding", f)]


def painful_region(data: dict[str, Any], kb: KnowledgeBase = KB) -> str:
    """The region the engine assesses for a raw case: from the complaints, in REGION_ORDER."""
    regions = {str(kb.vocabulary.attr("complaint", c, "region")) for c in data["complaint"]}
    return next(r for r in REGION_ORDER if r in regions)


# --- building blocks -------------------------------------------------------------------------


def _numbers(low: float, high: float) -> st.SearchStrategy[float]:
    """Whole numbers mostly (as people write them), sometimes a fraction."""
    return st.one_of(
        st.integers(int(low), int(high)).map(float),
        st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


def _time_ago() -> st.SearchStrategy[dict[str, float]]:
    """One of weeks_ago / months_ago / years_ago, or none (date unknown)."""
    return st.one_of(
        st.just({}),
        _numbers(0, 1040).map(lambda w: {"weeks_ago": w}),
        _numbers(0, 240).map(lambda m: {"months_ago": m}),
        _numbers(0, 40).map(lambda y: {"years_ago": y}),
    )


@st.composite
def level_texts(draw: st.DrawFn, region: str) -> str:
    """A spinal level in ``region``: ``C5-C6``, ``C5-6``, ``C5/6`` or a span like ``C4-C6``."""
    inside = [i for i, v in enumerate(_VERTEBRAE) if _REGION_OF_LETTER[v[0]] == region]
    # A segment may start one vertebra above the region (C7-T1 for a thoracic operation):
    # a level that touches the region is valid.
    starts = sorted({max(0, inside[0] - 1), *inside} - {len(_VERTEBRAE) - 1})
    start = draw(st.sampled_from(starts))
    span = draw(st.sampled_from([1, 1, 1, 2]))
    end = min(start + span, len(_VERTEBRAE) - 1)
    upper, lower = _VERTEBRAE[start], _VERTEBRAE[end]
    style = draw(st.sampled_from(["full", "short", "slash"]))
    if style == "full" or upper[0] != lower[0]:
        return f"{upper}-{lower}"
    return f"{upper}{'-' if style == 'short' else '/'}{lower[1:]}"


@st.composite
def surgeries(draw: st.DrawFn) -> dict[str, Any]:
    vocab = _VOCAB
    procedure = draw(st.sampled_from(vocab.ids("procedure")))
    region = str(vocab.attr("procedure", procedure, "region"))
    item: dict[str, Any] = {"procedure": procedure}
    if draw(st.booleans()):
        item["levels"] = draw(st.lists(level_texts(region), min_size=1, max_size=3))
    item.update(draw(_time_ago()))
    return item


def _finding_value(name: str) -> st.SearchStrategy[Any]:
    vocab = _VOCAB
    if vocab.attr("finding", name, "type") == "number":
        low = float(vocab.attr("finding", name, "min") or 0)
        high = float(vocab.attr("finding", name, "max") or 0)
        return st.one_of(
            st.integers(int(low), int(high)),
            st.floats(low, high, allow_nan=False, allow_infinity=False),
        )
    return st.booleans()


@st.composite
def findings(draw: st.DrawFn) -> dict[str, Any]:
    """A random subset of the findings, each true/false (a number for numeric findings).

    The density varies from a few findings to nearly all of them, so both sparse cases
    (many unknowns, many questions) and dense ones (many red flags) are explored.
    """
    ids = _VOCAB.ids("finding")
    max_size = draw(st.sampled_from([4, 12, len(ids)]))
    chosen = draw(st.lists(st.sampled_from(ids), unique=True, max_size=max_size))
    out: dict[str, Any] = {}
    for name in chosen:
        # About one in ten written as null: the case format reads null as unknown.
        unknown = draw(st.integers(0, 9)) == 0
        out[name] = None if unknown else draw(_finding_value(name))
    return out


@st.composite
def imaging_studies(draw: st.DrawFn) -> dict[str, Any]:
    vocab = _VOCAB
    study: dict[str, Any] = {
        "study": draw(st.sampled_from(vocab.ids("study"))),
        "region": draw(st.sampled_from(vocab.ids("region"))),
    }
    weeks = draw(st.one_of(st.none(), _numbers(0, 260)))
    if weeks is not None:
        study["weeks_ago"] = weeks
    # Mostly true/false; now and then null, which the case format reads as not reported.
    study["findings"] = draw(
        st.dictionaries(
            st.sampled_from(vocab.ids("imaging_finding")),
            st.sampled_from([True, False, True, False, None]),
            max_size=6,
        )
    )
    return study


@st.composite
def treatments(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "treatment": draw(st.sampled_from(_VOCAB.ids("treatment"))),
        "weeks": draw(_numbers(0, 104)),
    }


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A valid raw case dict (the input of ``parse_case``)."""
    vocab = _VOCAB
    data: dict[str, Any] = {
        "surgeries": draw(st.lists(surgeries(), max_size=2)),
        "complaint": draw(
            st.lists(st.sampled_from(vocab.ids("complaint")), min_size=1, max_size=3, unique=True)
        ),
    }
    if draw(st.booleans()):
        # YAML reads `id: 17` as a number; the case format takes it and echoes it as text.
        data["id"] = draw(
            st.one_of(
                st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=12),
                st.integers(0, 10**6),
            )
        )
    if draw(st.booleans()):
        data["age"] = draw(_numbers(0, 120))
    if draw(st.booleans()):
        data["sex"] = draw(st.sampled_from(vocab.ids("sex")))
    if draw(st.booleans()):
        data["symptom_weeks"] = draw(_numbers(0, 520))
    if draw(st.booleans()):
        data["course"] = draw(st.sampled_from(vocab.ids("course")))
    data["findings"] = draw(findings())
    data["imaging"] = draw(st.lists(imaging_studies(), max_size=3))
    data["treatments"] = draw(st.lists(treatments(), max_size=3))
    if draw(st.integers(0, 2)) == 0:
        order = draw(st.sampled_from(_ORDERS))
        # Orders are matched ignoring case and spacing; now and then send one written loosely.
        style = draw(st.sampled_from(["exact", "exact", "exact", "lower", "spaced"]))
        if style == "lower":
            order = order.lower()
        elif style == "spaced":
            order = "  " + order.replace(" ", "  ") + " "
        data["proposed_order"] = order
    return data
