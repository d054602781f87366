"""The case form: HTML form fields to a case-format dict and back, and errors per field.

Every choice on the form comes from the knowledge base's vocabulary (kinds and finding
groups), so a term added there appears on the page without touching this module.

Field names are flat (``surgery-0-procedure``, ``finding-fever``) because an HTML form
posts flat pairs. Rows the clinician left empty are skipped, so the case's
``surgeries[0]`` may be the form's ``surgery-1``: :class:`BuiltCase` keeps that mapping
so a :class:`~spinecds.errors.FieldProblem` such as ``surgeries[0].years_ago`` is shown
next to the control the clinician actually typed into.

Unknown is never absent: a finding left at "unknown" is left out of the case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinecds.case import parse_case
from spinecds.errors import CaseError, FieldProblem
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.knowledge.vocabulary import Term

__all__ = [
    "PRESENCE",
    "UNITS",
    "BuiltCase",
    "FieldErrors",
    "FindingField",
    "FormSchema",
    "FormValues",
    "Group",
    "Option",
    "case_from_form",
    "check_form",
    "field_errors",
    "form_schema",
    "form_values",
]

PRESENCE = ("present", "absent", "unknown")
UNITS = ("weeks", "months", "years")
# Empty rows shown below the filled ones, so a clinician can add one without JavaScript.
SPARE_ROWS = {"surgery": 1, "imaging": 1, "treatment": 2}
MIN_ROWS = {"surgery": 1, "imaging": 1, "treatment": 2}
_LIST_KEYS = {"surgery": "surgeries", "imaging": "imaging", "treatment": "treatments"}
_ROW_PATH = re.compile(r"^(surgeries|imaging|treatments)\[(\d+)\](.*)$")
_TIME_KEYS = ("weeks_ago", "months_ago", "years_ago")
RowBuilder = Callable[["FormValues", str], dict[str, Any]]


# --- what the form offers, from the vocabulary -------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    hint: str = ""


@dataclass(frozen=True, slots=True)
class FindingField:
    """One finding: a present/absent/unknown choice, or a number (``motor_grade``)."""

    id: str
    label: str
    hint: str
    numeric: bool = False
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    title: str
    fields: tuple[FindingField, ...]


@dataclass(frozen=True, slots=True)
class FormSchema:
    """Every list the form draws from, read once per knowledge base."""

    procedures: tuple[Option, ...]
    studies: tuple[Option, ...]
    regions: tuple[Option, ...]
    complaints: tuple[Option, ...]
    courses: tuple[Option, ...]
    sexes: tuple[Option, ...]
    treatments: tuple[Option, ...]
    orders: tuple[Option, ...]
    units: tuple[Option, ...]
    finding_groups: tuple[Group, ...]
    imaging_groups: tuple[Group, ...]

    @property
    def finding_ids(self) -> frozenset[str]:
        return frozenset(f.id for g in self.finding_groups for f in g.fields)

    @property
    def imaging_finding_ids(self) -> frozenset[str]:
        return frozenset(f.id for g in self.imaging_groups for f in g.fields)


_SCHEMAS: dict[int, tuple[KnowledgeBase, FormSchema]] = {}


def form_schema(kb: KnowledgeBase) -> FormSchema:
    """The form's lists for ``kb`` (cached; the knowledge base is read-only)."""
    cached = _SCHEMAS.get(id(kb))
    if cached is not None and cached[0] is kb:
        return cached[1]
    schema = _build_schema(kb)
    _SCHEMAS[id(kb)] = (kb, schema)  # holding kb keeps its id from being reused
    return schema


def _build_schema(kb: KnowledgeBase) -> FormSchema:
    return FormSchema(
        procedures=_options(kb, "procedure"),
        studies=_options(kb, "study"),
        regions=_options(kb, "region"),
        complaints=_options(kb, "complaint"),
        courses=_options(kb, "course"),
        sexes=_options(kb, "sex"),
        treatments=_options(kb, "treatment"),
        orders=tuple(Option(p, p) for p in sorted(kb.procedures.values(), key=str.lower)),
        units=tuple(Option(u, u) for u in UNITS),
        finding_groups=_groups(kb, "finding"),
        imaging_groups=_groups(kb, "imaging_finding"),
    )


def _terms(kb: KnowledgeBase, kind: str) -> list[Term]:
    vocab = kb.vocabulary
    return [vocab.term(kind, term) for term in vocab.ids(kind)]


def _options(kb: KnowledgeBase, kind: str) -> tuple[Option, ...]:
    return tuple(Option(t.id, t.label, t.plain) for t in _terms(kb, kind))


def _groups(kb: KnowledgeBase, kind: str) -> tuple[Group, ...]:
    """Terms by their ``group`` attribute, groups in the order the vocabulary first uses them."""
    grouped: dict[str, list[FindingField]] = {}
    for term in _terms(kb, kind):
        group = str(term.attrs.get("group") or "other")
        numeric = term.attrs.get("type") == "number"
        grouped.setdefault(group, []).append(
            FindingField(
                id=term.id,
                label=term.label,
                hint=term.plain,
                numeric=numeric,
                low=_float_or_none(term.attrs.get("min")) if numeric else None,
                high=_float_or_none(term.attrs.get("max")) if numeric else None,
            )
        )
    return tuple(Group(g, _group_title(g), tuple(fs)) for g, fs in grouped.items())


def _group_title(group: str) -> str:
    return group.replace("_", " ").capitalize()


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- the posted values --------------------------------------------------------------------


@dataclass(frozen=True)
class FormValues:
    """What a form posted (or would post): each name with its values, in order."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, Any]]) -> FormValues:
        """From ``(name, value)`` pairs; file uploads and other non-text values are ignored."""
        collected: dict[str, list[str]] = {}
        for name, value in pairs:
            if isinstance(value, str):
                collected.setdefault(name, []).append(value)
        return cls({k: tuple(v) for k, v in collected.items()})

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0].strip() if found else default

    def getlist(self, name: str) -> list[str]:
        return [v.strip() for v in self.values.get(name, ())]

    def rows(self, prefix: str) -> int:
        """How many rows of ``prefix`` to show: the filled ones, at least one spare."""
        filled = [i for i in self.row_indexes(prefix) if self.row_filled(prefix, i)]
        needed = (max(filled) + 1 if filled else 0) + SPARE_ROWS[prefix]
        return max(MIN_ROWS[prefix], needed)

    def row_indexes(self, prefix: str) -> list[int]:
        pattern = re.compile(rf"^{prefix}-(\d+)-")
        found = {int(m.group(1)) for name in self.values if (m := pattern.match(name))}
        return sorted(found)

    def row_filled(self, prefix: str, index: int) -> bool:
        """A row counts when the clinician typed or chose something in it.

        The time unit always has a value and findings default to unknown, so neither
        alone makes a row.
        """
        start = f"{prefix}-{index}-"
        for name, values in self.values.items():
            if not name.startswith(start) or name.endswith("-unit"):
                continue
            value = values[0].strip() if values else ""
            if value and value != "unknown":
                return True
        return False


# --- form -> case ------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltCase:
    """The case-format dict and which form row each of its list entries came from."""

    data: dict[str, Any]
    rows: Mapping[str, str]  # "surgeries[0]" -> "surgery-1"


def case_from_form(values: FormValues, schema: FormSchema) -> BuiltCase:
    """Build the case-format dict; anything the engine will reject is passed on as typed.

    A number that does not parse is handed over as text, so the engine's own check
    reports it at its case path (``age: give a number``) like every other problem.
    """
    data: dict[str, Any] = {}
    rows: dict[str, str] = {}
    if case_id := values.get("id"):
        data["id"] = case_id
    _put_number(data, "age", values.get("age"))
    if sex := values.get("sex"):
        data["sex"] = sex
    data["surgeries"] = _list_rows(values, "surgery", _surgery, rows)
    data["complaint"] = [c for c in values.getlist("complaint") if c]
    _put_number(data, "symptom_weeks", values.get("symptom_weeks"))
    if course := values.get("course"):
        data["course"] = course
    data["findings"] = _findings(values, "finding-", schema.finding_groups)
    data["imaging"] = _list_rows(values, "imaging", _imaging_of(schema), rows)
    data["treatments"] = _list_rows(values, "treatment", _treatment, rows)
    if order := values.get("proposed_order"):
        data["proposed_order"] = order
    return BuiltCase(data, rows)


def _list_rows(
    values: FormValues,
    prefix: str,
    build: RowBuilder,
    rows: dict[str, str],
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for index in values.row_indexes(prefix):
        if not values.row_filled(prefix, index):
            continue
        rows[f"{_LIST_KEYS[prefix]}[{len(items)}]"] = f"{prefix}-{index}"
        items.append(build(values, f"{prefix}-{index}-"))
    return items


def _surgery(values: FormValues, p: str) -> dict[str, Any]:
    item: dict[str, Any] = {"procedure": values.get(p + "procedure")}
    levels = [x for x in re.split(r"[,;\s]+", values.get(p + "levels")) if x]
    if levels:
        item["levels"] = levels
    _put_time(item, values, p)
    return item


def _imaging_of(schema: FormSchema) -> RowBuilder:
    def build(values: FormValues, p: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "study": values.get(p + "study"),
            "region": values.get(p + "region"),
        }
        _put_time(item, values, p)
        item["findings"] = _findings(values, p + "finding-", schema.imaging_groups)
        return item

    return build


def _treatment(values: FormValues, p: str) -> dict[str, Any]:
    item: dict[str, Any] = {"treatment": values.get(p + "treatment")}
    _put_number(item, "weeks", values.get(p + "weeks"))
    return item


def _put_time(item: dict[str, Any], values: FormValues, p: str) -> None:
    unit = values.get(p + "unit", "weeks")
    key = f"{unit}_ago" if unit in UNITS else "weeks_ago"
    _put_number(item, key, values.get(p + "time"))


def _put_number(target: dict[str, Any], key: str, text: str) -> None:
    if text:
        target[key] = _number(text)


def _number(text: str) -> float | int | str:
    cleaned = text.replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _findings(values: FormValues, prefix: str, groups: Iterable[Group]) -> dict[str, Any]:
    """Present -> true, absent -> false, unknown -> left out (never false)."""
    found: dict[str, Any] = {}
    for group in groups:
        for f in group.fields:
            raw = values.get(prefix + f.id)
            if f.numeric:
                _put_number(found, f.id, raw)
            elif raw == "present":
                found[f.id] = True
            elif raw == "absent":
                found[f.id] = False
            elif raw not in ("", "unknown"):
                found[f.id] = raw  # a tampered value: the engine names the field
    return found


def check_form(built: BuiltCase, kb: KnowledgeBase) -> list[FieldProblem]:
    """What the form itself requires, with every other problem of the case in the same round.

    The engine checks the case's shape before its terms, so a form without a complaint
    would hide, say, a wrong spinal level until the complaint is fixed. Here the missing
    complaint is reported and the rest of the case is checked with a stand-in complaint
    (only to collect problems: nothing is assessed or stored).
    """
    if built.data.get("complaint"):
        return []
    missing = FieldProblem("complaint", "Choose at least one complaint.")
    stand_in = kb.vocabulary.ids("complaint")[:1]
    try:
        parse_case({**built.data, "complaint": stand_in}, kb.vocabulary, kb.procedures)
    except CaseError as exc:
        return [missing, *exc.problems]
    return [missing]


# --- case -> form (to edit a stored case) ------------------------------------------------


def form_values(case: Mapping[str, Any]) -> FormValues:
    """The form values that post back as ``case`` (for "edit this case")."""
    pairs: list[tuple[str, str]] = []
    for key in ("id", "age", "sex", "symptom_weeks", "course", "proposed_order"):
        if case.get(key) is not None:
            pairs.append((key, _text(case[key])))
    pairs += [("complaint", str(c)) for c in case.get("complaint") or []]
    for i, surgery in enumerate(_mappings(case.get("surgeries"))):
        p = f"surgery-{i}-"
        pairs.append((p + "procedure", str(surgery.get("procedure") or "")))
        pairs.append((p + "levels", ", ".join(str(x) for x in surgery.get("levels") or [])))
        pairs += _time_pairs(surgery, p)
    pairs += _finding_pairs(case.get("findings"), "finding-")
    for i, study in enumerate(_mappings(case.get("imaging"))):
        p = f"imaging-{i}-"
        pairs.append((p + "study", str(study.get("study") or "")))
        pairs.append((p + "region", str(study.get("region") or "")))
        pairs += _time_pairs(study, p)
        pairs += _finding_pairs(study.get("findings"), p + "finding-")
    for i, treatment in enumerate(_mappings(case.get("treatments"))):
        p = f"treatment-{i}-"
        pairs.append((p + "treatment", str(treatment.get("treatment") or "")))
        if treatment.get("weeks") is not None:
            pairs.append((p + "weeks", _text(treatment["weeks"])))
    return FormValues.from_pairs(pairs)


def _mappings(items: Any) -> list[Mapping[str, Any]]:
    return [x for x in items if isinstance(x, Mapping)] if isinstance(items, list) else []


def _time_pairs(item: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    for key in _TIME_KEYS:
        if item.get(key) is not None:
            return [(p + "time", _text(item[key])), (p + "unit", key.removesuffix("_ago"))]
    return []


def _finding_pairs(findings: Any, prefix: str) -> list[tuple[str, str]]:
    if not isinstance(findings, Mapping):
        return []
    pairs = []
    for name, value in findings.items():
        if value is True:
            pairs.append((prefix + str(name), "present"))
        elif value is False:
            pairs.append((prefix + str(name), "absent"))
        elif value is not None:
            pairs.append((prefix + str(name), _text(value)))
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- problems -> messages next to controls -----------------------------------------------


@dataclass
class FieldErrors:
    """Messages by form control, and every problem for the summary at the top of the form."""

    by_control: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str | None]] = field(default_factory=list)  # (text, control)

    def __bool__(self) -> bool:
        return bool(self.summary)

    def of(self, control: str) -> list[str]:
        return self.by_control.get(control, [])


def field_errors(
    problems: Iterable[FieldProblem], built: BuiltCase, values: FormValues
) -> FieldErrors:
    errors = FieldErrors()
    for problem in problems:
        control = control_for(problem.field, built.rows)
        empty_choice = control is not None and not values.get(control) and _is_choice(control)
        message = _message(problem, empty_choice)
        if control is not None:
            errors.by_control.setdefault(control, []).append(message)
        where = f"{_where(problem.field)}: " if problem.field else ""
        errors.summary.append((where + message, control))
    return errors


def _is_choice(control: str) -> bool:
    return control.endswith(("-procedure", "-study", "-region", "-treatment"))


def _message(problem: FieldProblem, empty_choice: bool) -> str:
    """The problem in words for the form: an empty select reads "choose one", not a CLI hint."""
    if empty_choice:
        return "Choose one from the list (or clear the other fields of this row)."
    text = problem.problem.rstrip()
    if problem.suggestions:
        text += f" Did you mean: {', '.join(problem.suggestions)}?"
    if problem.fix:
        text += f" Fix: {problem.fix}"
    return text


def _where(path: str) -> str:
    """``surgeries[0].years_ago`` reads as ``Surgery 1, years ago`` in the summary."""
    match = _ROW_PATH.match(path)
    if not match:
        return path.replace("findings.", "finding ").replace("_", " ")
    names = {"surgeries": "Surgery", "imaging": "Imaging study", "treatments": "Treatment"}
    rest = match.group(3).lstrip(".").replace("findings.", "finding ").replace("_", " ")
    head = f"{names[match.group(1)]} {int(match.group(2)) + 1}"
    return f"{head}, {rest}" if rest else head


def control_for(path: str, rows: Mapping[str, str]) -> str | None:
    """The form control a case path belongs to, or None when no single control fits."""
    if path in ("id", "age", "sex", "symptom_weeks", "course", "proposed_order"):
        return path
    if path == "complaint" or path.startswith("complaint["):
        return "complaint"
    if path.startswith("findings."):
        return "finding-" + path.removeprefix("findings.")
    match = _ROW_PATH.match(path)
    if not match:
        return None
    row = rows.get(f"{match.group(1)}[{match.group(2)}]")
    if row is None:
        return None
    return f"{row}-{_row_control(match.group(3).lstrip('.'))}"


def _row_control(rest: str) -> str:
    if rest.startswith("findings."):
        return "finding-" + rest.removeprefix("findings.")
    name = re.split(r"[.\[]", rest, maxsplit=1)[0]
    if name in ("", *_TIME_KEYS):
        return "time"  # "gives weeks_ago and years_ago" is about the row's time
    return name
