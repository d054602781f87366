"""Surgery histories: which operation, at which levels, how long ago.

Within a sentence, each level expression and each time expression goes to the nearest
operation named ("s/p C5-6 ACDF 2019, C3-4 laminoplasty 2023"). Words that name an
operation without its type ("C5-6 fusion", "2 yrs post-op") fill in the one typed operation
they fit; an L4-5 fusion is a lumbar fusion by its level, while a cervical fusion of unstated
approach is reported for the clinician instead of guessed. A planned or possible operation
is not a past one; "no prior spine surgery" is recorded as none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from spinecds.knowledge.vocabulary import Vocabulary
from spinecds.nlp.levels import LevelMention, find_levels, region_of, regions_of, segments_around
from spinecds.nlp.model import Unresolved
from spinecds.nlp.reading import Read, TextReading
from spinecds.nlp.rules import NlpRules
from spinecds.nlp.timing import TimeAgo, find_times

__all__ = ["Surgeries", "SurgeryRecord", "read_surgeries"]

_DONE = ("present", "historical")
_LEVEL_REACH = 25  # characters between an operation and its levels ("C5-6 ACDF", "fusion C4-C7")
_TIME_REACH = 40  # and its date ("ACDF in March 2020", "2 years after her C5-6 ACDF")
_ELSEWHERE = re.compile(
    r"[,;]|\.\s|\b(?:above|below|adjacent|cephalad|caudal|superior|inferior|next)\b",
    re.IGNORECASE,
)
_WEEKS = {"weeks_ago": 1.0, "months_ago": 52.0 / 12.0, "years_ago": 52.0}


@dataclass
class SurgeryRecord:
    procedure: str | None  # None: an operation whose type the text does not settle
    label: str  # the words' kind of operation, for messages ("fusion")
    levels: tuple[str, ...] = ()
    time: tuple[str, float] | None = None  # ("years_ago", 7.0)
    reads: list[Read] = field(default_factory=list)

    def weeks(self) -> float | None:
        return None if self.time is None else self.time[1] * _WEEKS[self.time[0]]

    def as_case(self) -> dict[str, Any]:
        out: dict[str, Any] = {"procedure": self.procedure}
        if self.levels:
            out["levels"] = list(self.levels)
        if self.time is not None:
            amount = self.time[1]
            out[self.time[0]] = int(amount) if float(amount).is_integer() else amount
        return out


@dataclass
class Surgeries:
    records: list[SurgeryRecord]
    none_stated: bool  # "no prior spine surgery"
    unresolved: list[Unresolved]


def read_surgeries(
    readings: Sequence[TextReading], rules: NlpRules, vocab: Vocabulary, today: date
) -> Surgeries:
    typed: list[SurgeryRecord] = []
    untyped: list[SurgeryRecord] = []
    none_stated = False
    for reading in readings:
        for sentence, reads in _by_sentence(reading.of_kind("procedure")).items():
            found, denied = _sentence_surgeries(reading, sentence, reads, rules, today)
            none_stated = none_stated or denied
            for record in found:
                (typed if record.procedure else untyped).append(record)
    merged, unresolved = _in_their_region(_merge(typed), vocab)
    for record in untyped:
        left = _fill_in(record, merged, vocab)
        unresolved.extend(_unresolved(record) if left is None else left)
    merged.sort(key=lambda r: (r.weeks() is None, r.weeks() or 0.0))
    _mark(merged)
    return Surgeries(merged, none_stated and not merged, unresolved)


def _by_sentence(reads: list[Read]) -> dict[int, list[Read]]:
    out: dict[int, list[Read]] = {}
    for read in reads:
        out.setdefault(read.mention.sentence, []).append(read)
    return out


def _sentence_surgeries(
    reading: TextReading, sentence: int, reads: list[Read], rules: NlpRules, today: date
) -> tuple[list[SurgeryRecord], bool]:
    start, end = reading.parsed.sentences[sentence]
    words = reading.parsed.text[start:end]
    levels = [_shift(lv, start) for lv in find_levels(words)]
    times = [t for t in find_times(words, today) if not t.relative_to_now]
    times = [TimeAgo(t.start + start, t.end + start, t.unit, t.amount, t.words) for t in times]
    text = reading.parsed.text
    level_spans = [(lv.start, lv.end) for lv in levels]
    owner_of_level = _nearest_owner(reads, level_spans, _LEVEL_REACH, text)
    owner_of_time = _nearest_owner(reads, [(t.start, t.end) for t in times], _TIME_REACH, text)
    denied = False
    records: list[SurgeryRecord] = []
    for i, read in enumerate(reads):
        evidence = read.evidence
        if read.assertion == "negated":
            evidence.value = False
            evidence.note = "denied: no such operation"
            denied = denied or read.mention.term == "unspecified:surgery"
            continue
        if read.assertion not in _DONE:
            evidence.note = "not an operation done (planned, possible or someone else's)"
            continue
        mine = [lv for lv, owner in zip(levels, owner_of_level, strict=True) if owner == i]
        when = [t for t, owner in zip(times, owner_of_time, strict=True) if owner == i]
        when.sort(key=lambda t: max(read.mention.start - t.end, t.start - read.mention.end, 0))
        records.append(_record(read, mine, when, rules))
    return records, denied


def _shift(level: LevelMention, by: int) -> LevelMention:
    return LevelMention(level.start + by, level.end + by, level.segments, level.single)


def _nearest_owner(
    reads: list[Read], spans: list[tuple[int, int]], reach: int, text: str
) -> list[int]:
    """For each span, the nearest operation mention it belongs to (else -1).

    "C3-C6 laminoplasty" and "ACDF (2019)" sit beside their operation. A level or date
    further than ``reach`` characters, past a comma, or related to the operation by
    "above", "below" or "adjacent to" belongs to something else ("stenosis at C6-7 below the
    laminoplasty", "at L3-4, above the fusion").
    """
    owners = []
    for start, end in spans:
        best, best_distance = -1, reach + 1
        for i, read in enumerate(reads):
            m = read.mention
            between = text[end : m.start] if end <= m.start else text[m.end : start]
            distance = len(between)
            if distance < best_distance and not _ELSEWHERE.search(between):
                best, best_distance = i, distance
        owners.append(best)
    return owners


def _record(
    read: Read, levels: list[LevelMention], times: list[TimeAgo], rules: NlpRules
) -> SurgeryRecord:
    term = read.mention.term
    segments = tuple(dict.fromkeys(s for lv in levels for s in lv.segments))
    if term == "anterior_cervical_corpectomy" and not segments:
        singles = [lv.single for lv in levels if lv.single]
        segments = tuple(dict.fromkeys(s for v in singles for s in segments_around(v)))
    time = (times[0].unit, times[0].amount) if times else None
    if term.startswith("unspecified:"):
        label = term.split(":", 1)[1]
        by_region = rules.targets["procedure"].unspecified[label].by_region
        regions = {region_of(s) for s in segments}
        procedure = by_region.get(regions.pop()) if len(regions) == 1 else None  # type: ignore[call-overload]
        record = SurgeryRecord(procedure, label.replace("_", " "), segments, time, [read])
    else:
        record = SurgeryRecord(term, term, segments, time, [read])
    return record


def _in_their_region(
    records: list[SurgeryRecord], vocab: Vocabulary
) -> tuple[list[SurgeryRecord], list[Unresolved]]:
    """Levels outside the operation's region are dropped; an operation with only such
    levels ("foraminotomy L5-S1": the vocabulary's foraminotomy is cervical) is reported."""
    kept, unresolved = [], []
    for record in records:
        region = str(vocab.attr("procedure", str(record.procedure), "region"))
        fitting = tuple(s for s in record.levels if region in regions_of(s))
        if record.levels and not fitting:
            read = record.reads[0]
            read.evidence.note = f"levels {', '.join(record.levels)} are not {region}: not entered"
            unresolved.append(
                Unresolved(
                    read.evidence.source,
                    read.evidence.sentence,
                    f"{record.procedure} at {', '.join(record.levels)} is not a {region} "
                    "operation the vocabulary has.",
                    "enter the operation by hand if it matters (see `spinecds vocab procedure`).",
                )
            )
            continue
        record.levels = fitting
        kept.append(record)
    return kept, unresolved


def _compatible(a: SurgeryRecord, b: SurgeryRecord) -> bool:
    levels_ok = not a.levels or not b.levels or set(a.levels) & set(b.levels)
    time_ok = a.time is None or b.time is None or a.time == b.time
    return bool(levels_ok) and time_ok


def _absorb(into: SurgeryRecord, other: SurgeryRecord) -> None:
    into.levels = into.levels or other.levels
    into.time = into.time or other.time
    into.reads.extend(other.reads)


def _merge(records: list[SurgeryRecord]) -> list[SurgeryRecord]:
    """One record per operation: mentions of the same procedure that do not disagree."""
    merged: list[SurgeryRecord] = []
    for record in records:
        same = [m for m in merged if m.procedure == record.procedure and _compatible(m, record)]
        if same:
            _absorb(same[0], record)
        else:
            merged.append(record)
    return merged


def _fill_in(
    record: SurgeryRecord, typed: list[SurgeryRecord], vocab: Vocabulary
) -> list[Unresolved] | None:
    """Give untyped words ("2 yrs post-op", "the C5-6 fusion") to the operation they fit.

    None when they could not be placed; otherwise what is left to report (a second, different
    time for the only operation there is).
    """
    region = region_of(record.levels[0]) if record.levels else None
    in_region = [
        t
        for t in typed
        if region is None or vocab.attr("procedure", str(t.procedure), "region") == region
    ]
    fits = [t for t in in_region if _compatible(t, record)]
    if len(fits) == 1:
        _absorb(fits[0], record)
        return []
    if not record.levels and record.time is None:
        return []  # "post-op", "her surgery": nothing to add, nothing to report
    if len(in_region) == 1 and record.label == "surgery" and record.time is not None:
        only = in_region[0]
        read = record.reads[0]
        read.evidence.note = "a second time since the operation: not entered"
        return [
            Unresolved(
                read.evidence.source,
                read.evidence.sentence,
                f"{read.evidence.words!r} gives another time since the {only.procedure} "
                f"than {_time_words(only)}.",
                "check the date of the operation and set it in the case.",
            )
        ]
    return None


def _time_words(record: SurgeryRecord) -> str:
    if record.time is None:
        return "the other mention"
    unit, amount = record.time
    return f"{amount:g} {unit.replace('_ago', '')} ago"


def _unresolved(record: SurgeryRecord) -> list[Unresolved]:
    read = record.reads[0]
    what = record.label if record.label != "surgery" else "an operation"
    where = f" at {', '.join(record.levels)}" if record.levels else ""
    read.evidence.note = "operation type not stated: not entered"
    return [
        Unresolved(
            read.evidence.source,
            read.evidence.sentence,
            f"{what}{where} is mentioned without saying which operation it was.",
            "add the operation to the case (surgeries[].procedure; `spinecds vocab procedure`).",
        )
    ]


def _mark(records: list[SurgeryRecord]) -> None:
    for i, record in enumerate(records):
        for read in record.reads:
            read.evidence.value = True
            read.evidence.entered = True
            read.evidence.field = f"surgeries[{i}]"
            read.evidence.term = str(record.procedure)
            read.evidence.note = "a past operation"
