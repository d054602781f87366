"""spinecds: clinical decision support for neck pain after spine surgery.

Public API::

    from spinecds import assess, default_kb, parse_case
    kb = default_kb()
    assessment = assess(parse_case(data, kb.vocabulary, kb.procedures), kb)
"""

from spinecds.assessment import Assessment
from spinecds.case import Case, parse_case
from spinecds.engine.assess import assess
from spinecds.errors import CaseError, KnowledgeBaseError, SpinecdsError
from spinecds.knowledge.loader import KnowledgeBase, default_kb, load_kb

__all__ = [
    "Assessment",
    "Case",
    "CaseError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "SpinecdsError",
    "assess",
    "default_kb",
    "load_kb",
    "parse_case",
]
__version__ = "0.1.0"
