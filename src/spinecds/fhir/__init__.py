"""FHIR R4 records -> spinecds cases and orders (CDS Hooks service and batch).

    from spinecds.fhir import case_from_resources, order_from_service_request
    mapped = case_from_resources(resources, today=date.today(), kb=kb)
    case = parse_case(mapped.case, kb.vocabulary, kb.procedures)

Codes are mapped only through ``kb/fhir/codes.yaml`` (a copy of ../shared/codes/codes.yaml);
how statuses, interpretations and text are read is data too (``kb/fhir/mapping.yaml``).
"""

from spinecds.fhir.mapping import MappedCase, case_from_resources
from spinecds.fhir.orders import (
    FhirInputError,
    MappedOrder,
    order_from_service_request,
    orders_from_resources,
)
from spinecds.fhir.prefetch import PREFETCH, PrefetchError, fetch_missing_prefetch

__all__ = [
    "PREFETCH",
    "FhirInputError",
    "MappedCase",
    "MappedOrder",
    "PrefetchError",
    "case_from_resources",
    "fetch_missing_prefetch",
    "order_from_service_request",
    "orders_from_resources",
]
