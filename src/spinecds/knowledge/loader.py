"""Strict loader for the knowledge base shipped in ``spinecds/kb``.

Every file is validated against :mod:`spinecds.knowledge.schema` and every condition is
parsed and compiled at load time, so a broken rule stops start-up with the file, the
field and the fix rather than failing later inside an assessment.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from spinecds.engine.conditions import (
    Condition,
    ConditionError,
    Leaf,
    compile_condition,
    compile_unknowns,
    parse_condition,
)
from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.knowledge.schema import (
    AcrRating,
    AcrTopic,
    AcrVariant,
    Conflict,
    ConflictFile,
    Context,
    DifferentialFile,
    Family,
    FollowUpFile,
    FollowUpItem,
    Manifest,
    PlanFile,
    PlanStep,
    Reference,
    Rule,
    RuleFile,
    VocabularyFile,
    WarningFile,
    WarningItem,
)
from spinecds.knowledge.vocabulary import Term, Vocabulary

__all__ = ["CompiledRule", "KnowledgeBase", "default_kb", "load_kb"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Model = TypeVar("Model", bound=BaseModel)
Compiled = Callable[[Mapping[str, Any]], float]

# Families whose unknown conditions are worth a question by default: they change urgency,
# pathway, ACR variant or the study to order. Others (plan, pitfalls) do not ask.
ASKING_FAMILIES = {"triage", "variants", "imaging", "imaging_adjust", "results"}
# One rule file per family, in the order the engine runs them (the schema's Family list).
RULE_FILES: tuple[str, ...] = get_args(Family)


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    condition: Condition
    test: Compiled
    _lazy: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def unknowns(self, values: Mapping[str, Any]) -> tuple[Leaf, ...]:
        """The unknown leaves that could still change this condition (compiled on first use)."""
        found = self._lazy.get("unknowns")
        if found is None:
            found = self._lazy["unknowns"] = compile_unknowns(self.condition)
        return found(values)

    def lazy(self, name: str, make: Callable[[Condition], Any]) -> Any:
        """``make(self.condition)``, made on first use and kept: code that only some
        conditions ever need (e.g. the trace of a rule that fires) is not built at load."""
        found = self._lazy.get(name)
        if found is None:
            found = self._lazy[name] = make(self.condition)
        return found


@dataclass(frozen=True, slots=True)
class CompiledRule(CompiledCondition):
    rule: Rule = field(kw_only=True)
    family: str = field(kw_only=True)
    asks: bool = field(kw_only=True)
    source: str = field(kw_only=True)

    @property
    def id(self) -> str:
        return self.rule.id


@dataclass
class KnowledgeBase:
    """Everything the engine knows, loaded once and shared read-only."""

    root: Path
    manifest: Manifest
    content_hash: str
    vocabulary: Vocabulary
    references: dict[str, Reference]
    topics: dict[str, AcrTopic]
    variants: dict[str, tuple[AcrTopic, AcrVariant]]
    ratings: dict[str, dict[str, AcrRating]]
    procedures: dict[str, str]  # lower-cased ACR procedure name -> exact spelling
    context: Context
    rules: dict[str, list[CompiledRule]]
    plan_steps: dict[str, PlanStep]
    warnings: dict[str, WarningItem]
    follow_up: dict[str, FollowUpItem]
    differential: DifferentialFile
    conflicts: list[Conflict]
    compiled: dict[str, CompiledCondition] = field(default_factory=dict)
    # What the engine derives from this knowledge base once, on first use (spinecds.engine).
    engine: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def version(self) -> str:
        """``knowledge_version``: the semantic version plus a hash of the content."""
        return f"{self.manifest.version}+{self.content_hash[:12]}"

    def condition(self, key: str) -> CompiledCondition:
        return self.compiled[key]

    def all_rules(self) -> list[CompiledRule]:
        return [r for family in RULE_FILES for r in self.rules.get(family, [])]


def default_root() -> Path:
    return Path(str(resources.files("spinecds") / "kb"))


@cache
def default_kb() -> KnowledgeBase:
    """The knowledge base shipped with the package (loaded once per process)."""
    return load_kb(default_root())


def load_kb(root: Path) -> KnowledgeBase:
    """Load and validate every file under ``root``; raise KnowledgeBaseError on any problem."""
    reader = _Reader(root)
    manifest = reader.model("manifest.yaml", Manifest)
    vocabulary = _vocabulary(reader.model("vocabulary.yaml", VocabularyFile))
    references = {r.id: r for r in reader.models("references.yaml", Reference)}
    topics = {t.key: t for p in sorted((root / "acr").glob("*.yaml")) if (t := reader.topic(p))}
    variants = {v.key: (t, v) for t in topics.values() for v in t.variants}
    ratings = {key: {r.procedure: r for r in v.ratings} for key, (_, v) in variants.items()}
    procedures = {r.procedure.lower(): r.procedure for v in ratings.values() for r in v.values()}
    context = reader.model("context.yaml", Context)
    reader.macros = context.macros
    rules = {name: reader.rules(f"rules/{name}.yaml", name) for name in RULE_FILES}
    plan = reader.model("plan.yaml", PlanFile)
    warnings = reader.model("warnings.yaml", WarningFile)
    follow_up = reader.model("follow_up.yaml", FollowUpFile)
    differential = reader.model("differential.yaml", DifferentialFile)
    conflicts = reader.model("conflicts.yaml", ConflictFile)
    kb = KnowledgeBase(
        root=root,
        manifest=manifest,
        content_hash=reader.digest(),  # every file has been read (and hashed) by now
        vocabulary=vocabulary,
        references=references,
        topics=topics,
        variants=variants,
        ratings=ratings,
        procedures=procedures,
        context=context,
        rules=rules,
        plan_steps={s.id: s for s in plan.steps},
        warnings={w.id: w for w in warnings.warnings},
        follow_up={f.id: f for f in follow_up.items},
        differential=differential,
        conflicts=conflicts.conflicts,
    )
    kb.compiled.update(reader.conditions(kb))
    reader.raise_problems()
    return kb


class _Reader:
    """Reads files, collecting every problem before failing, and hashes what it read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[FieldProblem] = []
        self.macros: dict[str, Any] = {}
        self._hash = hashlib.sha256()

    def raw(self, name: str) -> Any:
        path = self.root / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KnowledgeBaseError(
                "The knowledge base is incomplete.",
                [FieldProblem(name, f"cannot be read ({exc.strerror}).", "reinstall spinecds")],
            ) from None
        self._hash.update(name.encode() + b"\0" + data + b"\0")
        cached = _cache_get(data)
        if cached is not None:
            return cached
        try:
            parsed = yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise KnowledgeBaseError(
                "A knowledge-base file is not valid YAML.", [FieldProblem(name, str(exc), "")]
            ) from None
        _cache_put(data, parsed)
        return parsed

    def model(self, name: str, model: type[Model]) -> Model:
        return self._validate(name, self.raw(name), model)

    def models(self, name: str, model: type[Model]) -> list[Model]:
        data = self.raw(name)
        if not isinstance(data, list):
            raise KnowledgeBaseError(
                "A knowledge-base file has the wrong shape.",
                [FieldProblem(name, "must be a YAML list.", "")],
            )
        return [self._validate(f"{name}[{i}]", item, model) for i, item in enumerate(data)]

    def topic(self, path: Path) -> AcrTopic:
        return self.model(str(path.relative_to(self.root)), AcrTopic)

    def rules(self, name: str, family: str) -> list[CompiledRule]:
        rule_file = self.model(name, RuleFile)
        if rule_file.family != family:
            self.problems.append(
                FieldProblem(f"{name}.family", f"is {rule_file.family!r}, expected {family!r}.")
            )
        compiled = []
        for i, rule in enumerate(rule_file.rules):
            cond = self._condition(rule.when, f"{name}.rules[{i}]({rule.id}).when")
            if cond is None:
                continue
            asks = rule.ask if rule.ask is not None else family in ASKING_FAMILIES
            compiled.append(
                CompiledRule(
                    cond, compile_condition(cond), rule=rule, family=family, asks=asks, source=name
                )
            )
        return compiled

    def conditions(self, kb: KnowledgeBase) -> dict[str, CompiledCondition]:
        """Conditions that live outside rule files, keyed for the engine to find."""
        found: dict[str, Any] = {}
        for d in kb.context.derived:
            for j, value in enumerate(d.values):
                found[f"derived:{d.fact}:{j}"] = value.when
        for diagnosis in kb.differential.diagnoses:
            found[f"dx:{diagnosis.id}:applies"] = diagnosis.applies_when
            if diagnosis.always_list_when is not None:
                found[f"dx:{diagnosis.id}:always"] = diagnosis.always_list_when
            for side, features in (
                ("for", diagnosis.features_for),
                ("against", diagnosis.features_against),
            ):
                for j, feature in enumerate(features):
                    found[f"dx:{diagnosis.id}:{side}:{j}"] = feature.when
        for conflict in kb.conflicts:
            for position in conflict.positions:
                found[f"conflict:{conflict.id}:{position.id}"] = position.applies_when
        out = {}
        for key, raw in found.items():
            cond = self._condition(raw, key)
            if cond is not None:
                out[key] = CompiledCondition(cond, compile_condition(cond))
        return out

    def _condition(self, raw: Any, where: str) -> Condition | None:
        try:
            return parse_condition(raw, where, self.macros)
        except ConditionError as exc:
            self.problems.append(FieldProblem(where, str(exc), "see kb/README.md, 'Conditions'"))
            return None

    def _validate(self, name: str, data: Any, model: type[Model]) -> Model:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = [
                FieldProblem(
                    f"{name}: {'.'.join(str(p) for p in err['loc'])}",
                    err["msg"] + ".",
                    _allowed(model, err),
                )
                for err in exc.errors()
            ]
            raise KnowledgeBaseError("A knowledge-base file breaks its schema.", problems) from None

    def digest(self) -> str:
        return self._hash.hexdigest()

    def raise_problems(self) -> None:
        if self.problems:
            raise KnowledgeBaseError("The knowledge base has invalid conditions.", self.problems)


def cache_dir() -> Path:
    """Where parsed KB files are cached: SPINECDS_CACHE_DIR, else the user's cache folder."""
    configured = os.environ.get("SPINECDS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spinecds" / "kb"


def _cache_path(data: bytes) -> Path:
    return cache_dir() / f"{hashlib.sha256(data).hexdigest()}.json"


def _cache_get(data: bytes) -> Any:
    """Parsed content of a KB file seen before (keyed by its bytes), or None.

    Building Python objects from YAML is most of the load time; JSON of the same content
    loads several times faster. The cache is only a copy: schema validation still runs.
    """
    try:
        return json.loads(_cache_path(data).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cache_put(data: bytes, parsed: Any) -> None:
    target = _cache_path(data)
    try:
        text = json.dumps(parsed, ensure_ascii=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)  # atomic: a reader never sees half a file
    except (OSError, TypeError, ValueError):
        return  # no cache (read-only home, or content JSON cannot hold): parse YAML each time


def _allowed(model: type[BaseModel], err: Any) -> str:
    if err["type"] != "extra_forbidden":
        return ""
    return "allowed keys are listed in kb/README.md for this file"


def _vocabulary(file: VocabularyFile) -> Vocabulary:
    terms: dict[str, dict[str, Term]] = {}
    for kind, entries in file.terms.items():
        terms[kind] = {}
        for term_id, attrs in entries.items():
            missing = {"label", "plain", "origin"} - set(attrs)
            if missing:
                raise KnowledgeBaseError(
                    "A vocabulary term is incomplete.",
                    [FieldProblem(f"vocabulary.yaml: terms.{kind}.{term_id}", f"lacks {missing}.")],
                )
            extra = {k: v for k, v in attrs.items() if k not in {"label", "plain", "origin"}}
            terms[kind][term_id] = Term(
                kind, term_id, attrs["label"], attrs["plain"], attrs["origin"], extra
            )
    return Vocabulary(terms)
