"""The trace's wording of what a rule did (its ``effect``)."""

from __future__ import annotations

__all__ = ["effect", "pairs"]


def pairs(pathway: str | None, urgency: str | None, referral: str | None) -> str:
    parts = [
        f"pathway {pathway}" if pathway else "",
        f"urgency {urgency}" if urgency else "",
        f"referral {referral}" if referral else "",
    ]
    return ", ".join(p for p in parts if p)


def effect(
    head: str | None,
    plan: list[str],
    warn: list[str],
    labs: list[str],
    follow: list[str] | None = None,
    swaps: dict[str, str] | None = None,
    removed: list[str] | None = None,
) -> str:
    parts = [head] if head else []
    parts += [f"labs {', '.join(labs)}"] if labs else []
    parts += [f"plan {', '.join(plan)}"] if plan else []
    parts += [f"warning {', '.join(warn)}"] if warn else []
    parts += [f"follow-up {', '.join(follow)}"] if follow else []
    parts += [f"{a} -> {b}" for a, b in (swaps or {}).items()]
    parts += [f"removed {r}" for r in removed or []]
    return "; ".join(parts) or "noted"
