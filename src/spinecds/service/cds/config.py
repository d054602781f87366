"""The CDS Hooks service definitions, loaded strictly from ``kb/cds/services.yaml``."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecds.errors import FieldProblem, KnowledgeBaseError
from spinecds.knowledge.loader import KnowledgeBase

__all__ = ["CdsConfig", "Coding", "ServiceDef", "cds_config", "check_cds_config"]

Hook = Literal["patient-view", "order-select", "order-sign"]
Indicator = Literal["info", "warning", "critical"]
PamaRating = Literal["appropriate", "not-appropriate", "no-criteria-apply"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Strict):
    code: str
    display: str


class Change(_Strict):
    version: str
    date: str
    what: str


class ServiceDef(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    hook: Hook
    title: str
    description: str
    prefetch: list[str]
    required: list[str]
    usage: str


class CdsConfig(_Strict):
    version: str
    changes: list[Change]
    source_label: str
    local_system: str
    services: list[ServiceDef]
    indicator_by_urgency: dict[Literal["emergency", "urgent", "routine"], Indicator]
    indicator_by_verdict: dict[
        Literal["appropriate", "consider_alternative", "not_appropriate"], Indicator
    ]
    pama_rating_by_category: dict[str, PamaRating]
    pama_rating_unrated: PamaRating
    override_reasons: list[Coding]
    topic: Coding

    def service(self, service_id: str) -> ServiceDef | None:
        return next((s for s in self.services if s.id == service_id), None)


@lru_cache(maxsize=1)
def cds_config() -> CdsConfig:
    """Read and validate the file once; a bad file stops the service at start-up."""
    path = resources.files("spinecds") / "kb" / "cds" / "services.yaml"
    try:
        return CdsConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        problems = [
            FieldProblem("kb/cds/services.yaml:" + ".".join(str(p) for p in e["loc"]), e["msg"], "")
            for e in exc.errors()
        ]
        raise KnowledgeBaseError("The CDS Hooks service file is not valid.", problems) from None


def check_cds_config(kb: KnowledgeBase, cfg: CdsConfig | None = None) -> list[FieldProblem]:
    """``spinecds kb check`` for the service file: prefetch keys, ids, every ACR category."""
    from spinecds.fhir import PREFETCH  # the templates the FHIR package can fill

    where = "kb/cds/services.yaml"
    try:
        cfg = cfg or cds_config()
    except KnowledgeBaseError as exc:
        return exc.problems
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, svc in enumerate(cfg.services):
        at = f"{where}:services[{i}]"
        if svc.id in seen:
            problems.append(FieldProblem(f"{at}.id", f"{svc.id!r} is used twice", "rename one"))
        seen.add(svc.id)
        for key in svc.prefetch:
            if key not in PREFETCH:
                problems.append(
                    FieldProblem(
                        f"{at}.prefetch",
                        f"no prefetch template {key!r}",
                        f"use one of: {', '.join(PREFETCH)}",
                    )
                )
        for key in svc.required:
            if key not in svc.prefetch:
                problems.append(
                    FieldProblem(f"{at}.required", f"{key!r} is required but not prefetched", "")
                )
    categories = {r.category for table in kb.ratings.values() for r in table.values()}
    for category in sorted(categories - set(cfg.pama_rating_by_category)):
        problems.append(
            FieldProblem(
                f"{where}:pama_rating_by_category",
                f"ACR category {category!r} has no appropriateness rating",
                "add it with appropriate, not-appropriate or no-criteria-apply",
            )
        )
    return problems
