"""The one adapter to ``fhir.resources.R4B``: FHIR R4 validation of plain JSON resources.

The package's default models are R5, which differ for ServiceRequest (``code`` is a
CodeableReference there) and Procedure (``occurrence[x]`` instead of ``performed[x]``), so
R4 input is checked against the R4B models (FHIR 4.3, the same shape as R4 for every
resource read here). Mapping reads the JSON itself; validation is a gate in front of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError

from spinecds.errors import FieldProblem

__all__ = ["problems_of"]


@cache
def _model(resource_type: str) -> type[FHIRAbstractModel] | None:
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, AttributeError):
        return None


def problems_of(resource: Mapping[str, Any]) -> list[FieldProblem]:
    """What makes ``resource`` invalid FHIR R4 (empty when it is valid)."""
    resource_type = str(resource.get("resourceType", ""))
    model = _model(resource_type)
    where = f"{resource_type or 'resource'}/{resource.get('id') or '?'}"
    if model is None:
        return [FieldProblem(where, f"{resource_type!r} is not a FHIR R4 resource type.", "")]
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        return [_problem(where, err) for err in exc.errors()[:5]]
    return []


def _problem(where: str, err: Any) -> FieldProblem:
    path = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return FieldProblem(
            f"{where}.{path}",
            "is not a FHIR R4 field (an R5 or misspelt field?).",
            "send the resource as FHIR R4.",
        )
    return FieldProblem(f"{where}.{path}", f"{err['msg']}.", "send valid FHIR R4.")
