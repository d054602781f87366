"""The CDS Hooks service definitions, loaded strictly from ``kb/cds/services.yaml``."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecds.errors import FieldProblem, KnowledgeBaseError

__all__ = ["CdsConfig", "Coding", "ServiceDef", "cds_config"]

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
