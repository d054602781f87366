"""The imaging stages: ACR variant, next study, and its adjustments (first match, then all)."""

from __future__ import annotations

from spinecds.assessment import ImagingChoice, build
from spinecds.engine.imaging import next_facts, rating_in, regional
from spinecds.engine.run import Pending, Run
from spinecds.engine.text import effect
from spinecds.knowledge.loader import CompiledRule

__all__ = ["adjust", "imaging_choices", "next_imaging", "variant"]


def variant(run: Run) -> tuple[str | None, list[str]]:
    rule, unknown = run.first("variants")
    memo = run.prepared.memo
    for skipped in unknown:
        memo_key = ("variant-ask", id(skipped))  # the same question source for every case
        if memo_key not in memo:
            memo[memo_key] = _pending(
                skipped,
                f"ACR variant would be {skipped.rule.then.acr} ({skipped.rule.title.lower()})",
            )
        if memo[memo_key] is not None:
            run.pending.append(memo[memo_key])
    if rule is None:
        run.values["x:acr"] = None
        return None, []
    acr = rule.rule.then.acr
    key = None if acr in (None, "none") else acr
    run.values["x:acr"] = key
    run.record(rule, run.prepared.effects[id(rule)])
    return key, list(rule.rule.then.related)


def next_imaging(run: Run) -> tuple[list[str], str, CompiledRule | None]:
    rule, unknown = run.first("imaging")
    region = run.facts.region
    memo = run.prepared.memo
    for skipped in unknown:
        key = ("imaging-ask", id(skipped), region)  # the same for every case in this region
        if key not in memo:
            first = skipped.rule.then.imaging[:1]
            target = regional(first[0], region) if first else "no imaging"
            memo[key] = _pending(
                skipped, f"first study would be {target} ({skipped.rule.title.lower()})"
            )
        if memo[key] is not None:
            run.pending.append(memo[key])
    if rule is None:
        return [], "", None
    values = run.values
    done = {name for key, name in run.prepared.studies_done.get(region, ()) if values.get(key)}
    studies = [s for s in (regional(n, region) for n in rule.rule.then.imaging) if s not in done]
    run.record(rule, "next imaging: " + (", ".join(studies) or "none"))
    return studies, rule.rule.then.why or "", rule


def adjust(run: Run, studies: list[str]) -> tuple[list[str], list[str]]:
    region = run.facts.region
    run.values.update(next_facts(studies))
    fired, unknown = run.evaluate("imaging_adjust")
    warns: list[str] = []
    for rule in fired:
        then = rule.rule.then
        removed = {regional(n, region) for n in then.remove_imaging}
        swaps = {regional(a, region): regional(b, region) for a, b in then.replace_imaging.items()}
        studies = [swaps.get(s, s) for s in studies if s not in removed]
        warns += then.warn
        run.record(rule, effect(None, [], then.warn, [], swaps=swaps, removed=sorted(removed)))
    for rule in unknown:
        then = rule.rule.then
        change = (
            "; ".join(
                [
                    f"{regional(a, region)} would be replaced by {regional(b, region)}"
                    for a, b in then.replace_imaging.items()
                    if regional(a, region) in studies
                ]
                + [f"{regional(n, region)} would be dropped" for n in then.remove_imaging]
            )
            or f"would add a caution ({rule.rule.title.lower()})"
        )
        run.ask(rule, change, 3)
    studies = list(dict.fromkeys(studies))
    run.values.update(next_facts(studies))
    return studies, warns


def _pending(rule: CompiledRule, would_change: str) -> Pending | None:
    """What Run.ask would add (priority 3), made once: None when the rule does not ask."""
    return Pending(rule, rule.id, would_change, 3) if rule.asks else None


def imaging_choices(
    run: Run, acr_key: str | None, studies: list[str], why: str, rule: CompiledRule | None
) -> list[ImagingChoice]:
    memo = run.prepared.memo
    region = run.facts.region
    out = []
    for i, name in enumerate(studies):
        # The same for every case with this variant, study, place in the list and rule.
        key = ("imaging", acr_key, name, region, i == 0, why, id(rule) if rule else None)
        choice = memo.get(key)
        if choice is None:
            choice = memo[key] = _choice(run, acr_key, name, i, why, rule)
        out.append(choice)
    return out


def _choice(
    run: Run, acr_key: str | None, name: str, i: int, why: str, rule: CompiledRule | None
) -> ImagingChoice:
    rating = rating_in(run.kb, acr_key, name, run.facts.region)
    return build(
        ImagingChoice,
        procedure=name,
        category=rating.category if rating else None,
        rating=rating.rating if rating else None,
        rrl=rating.rrl if rating else None,
        rrl_dose=rating.rrl_dose if rating else None,
        why=why if i == 0 else f"Also: {why}" if rating is None else why,
        cite=rule.rule.cite if rule else [],
        seeds=rule.rule.seeds if rule else [],
    )
