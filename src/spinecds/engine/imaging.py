"""ACR procedure names: per region, their rating in a variant, and what kind of study they are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from spinecds.knowledge.loader import KnowledgeBase
from spinecds.knowledge.schema import AcrRating

__all__ = ["ProcedureKind", "kind_of", "next_facts", "rating_in", "regional"]

REGION_SLOT = "<region>"
AREA = "spine area of interest"


def regional(name: str, region: str) -> str:
    """``MRI <region> spine without IV contrast`` -> ``MRI cervical spine without IV contrast``."""
    return name.replace(REGION_SLOT, region)


def rating_in(
    kb: KnowledgeBase, variant: str | None, procedure: str, region: str
) -> AcrRating | None:
    """The variant's rating of a procedure, matching 'spine area of interest' to the region."""
    if variant is None:
        return None
    ratings = kb.ratings[variant]
    found = ratings.get(procedure)
    if found is not None:
        return found
    for name, rating in ratings.items():
        if AREA in name and name.replace(AREA, f"{region} spine") == procedure:
            return rating
    return None


@dataclass(frozen=True, slots=True)
class ProcedureKind:
    # radiography, flexion_extension, ct, ct_contrast, ct_myelography, mri, mri_contrast, other
    modality: str
    iv_contrast: bool
    iodinated: bool
    ionising: bool


@lru_cache(maxsize=4096)  # a handful of procedure names, each classified once
def kind_of(procedure: str) -> ProcedureKind:
    name = procedure.lower()
    iv_contrast = "with iv contrast" in name
    if "flexion extension" in name:
        modality = "flexion_extension"
    elif name.startswith("radiograph"):
        modality = "radiography"
    elif name.startswith("ct myelography"):
        modality = "ct_myelography"
    elif name.startswith("ct "):
        modality = "ct_contrast" if iv_contrast else "ct"
    elif name.startswith("mri "):
        modality = "mri_contrast" if iv_contrast else "mri"
    else:
        modality = "other"
    iodinated = modality in ("ct_contrast", "ct_myelography") or name.startswith("cta ")
    ionising = not (name.startswith("mri ") or name.startswith("mra "))
    return ProcedureKind(modality, iv_contrast, iodinated, ionising)


def next_facts(studies: Sequence[str]) -> Mapping[str, Any]:
    """The ``next_*`` facts of the studies chosen (shared between calls: read only)."""
    return _next_facts(tuple(studies))


@lru_cache(maxsize=4096)  # few distinct lists of next studies; each worked out once
def _next_facts(studies: tuple[str, ...]) -> dict[str, Any]:
    kinds = [kind_of(s) for s in studies]
    return {
        "x:next_count": len(studies),
        "x:next_mri": any(k.modality in ("mri", "mri_contrast") for k in kinds),
        "x:next_contrast_mri": any(k.modality == "mri_contrast" for k in kinds),
        "x:next_iodinated_contrast": any(k.modality == "ct_contrast" for k in kinds),
        "x:next_flexion_extension": any(k.modality == "flexion_extension" for k in kinds),
        "x:next_ionising": any(k.ionising for k in kinds),
    }
