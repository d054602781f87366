"""One way in for every interface: parse the case, assess it, write the audit record.

REST, the web page and CDS Hooks differ only in how they read input and render output
(STYLE.md, example 9); they all call :meth:`Runner.run`, so every assessment is audited
the same way. The audit row is written in one transaction after the assessment is
complete, so a failure part-way leaves nothing behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from spinecds.assessment import Assessment
from spinecds.case import Case, parse_case
from spinecds.engine.assess import assess
from spinecds.knowledge.loader import KnowledgeBase
from spinecds.store import AssessmentRecord, AuditStore, NewAssessment

__all__ = ["Interface", "RunResult", "Runner", "RunnerDep", "get_runner"]

Interface = str  # "rest" | "web" | "cds-hooks" | "cli" | "batch"


@dataclass(frozen=True)
class RunResult:
    """An assessment with the id of its audit record (also its consultation id)."""

    record_id: str
    case: Case
    assessment: Assessment
    output: dict[str, Any]


class Runner:
    """The engine and the audit log, shared by every request of a process."""

    def __init__(self, kb: KnowledgeBase, store: AuditStore) -> None:
        self.kb = kb
        self.store = store

    def run(
        self,
        data: Mapping[str, Any],
        *,
        interface: Interface,
        client: str | None = None,
        service: str | None = None,
    ) -> RunResult:
        """Assess a case-format mapping; raises CaseError (nothing is stored) on bad input."""
        started = datetime.now(UTC)
        clock = time.perf_counter()
        case = parse_case(data, self.kb.vocabulary, self.kb.procedures)
        assessment = assess(case, self.kb)
        output = assessment.to_json_dict()
        record_id = self.store.record_assessment(
            NewAssessment(
                interface=interface,
                client=client,
                service=service,
                input=dict(data),
                output=output,
                status="ok",
                error=None,
                knowledge_version=self.kb.version,
                case_id=case.id,
                urgency=assessment.urgency,
                pathway=assessment.pathway,
                started_at=started,
                duration_ms=(time.perf_counter() - clock) * 1000.0,
            )
        )
        return RunResult(record_id, case, assessment, output)

    def get(self, record_id: str) -> AssessmentRecord | None:
        """A stored assessment, or None for an unknown (or malformed) id."""
        try:
            uuid.UUID(record_id)
        except ValueError:
            return None
        return self.store.get_assessment(record_id)


def get_runner(request: Request) -> Runner:
    """FastAPI dependency: the process's runner, built once by the app factory."""
    runner: Runner = request.app.state.runner
    return runner


RunnerDep = Annotated[Runner, Depends(get_runner)]
