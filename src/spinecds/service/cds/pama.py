"""Appropriateness recorded on the draft order, as the Argonaut imaging AUC guide does.

A ``systemActions`` update attaches, without changing the order's meaning, the rating
(appropriate, not-appropriate, no-criteria-apply) and a consultation id: the id of our
audit record, so the rating can be traced to the exact input and knowledge version.
The guide also asks for a CMS-assigned mechanism identifier ("G-code"); we have none,
and an invented one would be worse than none, so it is left out.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from spinecds.assessment import OrderReview
from spinecds.service.cds.config import CdsConfig

__all__ = ["RATING_SYSTEM", "pama_rating", "rating_action"]

RATING_EXT = "http://fhir.org/argonaut/Extension/pama-rating"
RATING_SYSTEM = "http://fhir.org/argonaut/CodeSystem/pama-rating"
CONSULT_EXT = "http://fhir.org/argonaut/Extension/pama-rating-consult-id"
AUC_EXT = "http://fhir.org/argonaut/Extension/pama-rating-auc-applied"
_OURS = {RATING_EXT, CONSULT_EXT, AUC_EXT}


def pama_rating(review: OrderReview, cfg: CdsConfig) -> str:
    """From the ACR category of the order in the patient's variant (not our stricter verdict)."""
    if review.category is None:
        return cfg.pama_rating_unrated
    return cfg.pama_rating_by_category.get(review.category, cfg.pama_rating_unrated)


def rating_action(
    order: Mapping[str, Any],
    review: OrderReview,
    cfg: CdsConfig,
    record_id: str,
    auc_url: str | None,
) -> dict[str, Any]:
    """An ``update`` of the draft ServiceRequest carrying the rating extensions."""
    resource = copy.deepcopy(dict(order))
    kept = [
        ext
        for ext in resource.get("extension") or []
        if not (isinstance(ext, Mapping) and ext.get("url") in _OURS)
    ]
    rating: dict[str, Any] = {
        "coding": [{"system": RATING_SYSTEM, "code": pama_rating(review, cfg)}]
    }
    if review.category is not None:
        rating["text"] = f"ACR: {review.category} (rating {review.rating})"
    kept.append({"url": RATING_EXT, "valueCodeableConcept": rating})
    kept.append({"url": CONSULT_EXT, "valueUri": uuid.UUID(record_id).urn})
    if auc_url:
        kept.append({"url": AUC_EXT, "valueUri": auc_url})
    resource["extension"] = kept
    return {
        "type": "update",
        "description": f"Record the appropriateness of {review.order} for this patient",
        "resource": resource,
    }
