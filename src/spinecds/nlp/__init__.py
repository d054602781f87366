"""Free text to case findings, with evidence spans (issue 4).

``extract(texts, today=...)`` reads clinic notes, triage messages and radiology reports with
a medspaCy pipeline whose rules live in ``kb/nlp`` and returns an :class:`Extraction`: a
case fragment in the case format and, for every mention, the words, span, sentence, section
and assertion. ``merge_case`` combines a fragment with a structured case (structured values
win). The spaCy pipeline loads on first use, once per process.
"""

from spinecds.nlp.extract import extract
from spinecds.nlp.model import Evidence, Extraction, Unresolved

__all__ = ["Evidence", "Extraction", "Unresolved", "extract"]
