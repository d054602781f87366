"""Review of a proposed imaging order against the ACR rating and this case's context."""

from __future__ import annotations

from spinecds.assessment import OrderReview, WarningOut, build
from spinecds.engine.imaging import kind_of, rating_in
from spinecds.engine.run import VERDICT_RANK, Run

__all__ = ["review_order"]


def review_order(run: Run, acr_key: str | None, studies: list[str]) -> OrderReview | None:
    order = run.case.proposed_order
    if order is None:
        return None
    kb, region, memo = run.kb, run.facts.region, run.prepared.memo
    key = ("order", acr_key, order, region)
    found = memo.get(key)
    if found is None:  # the rating, kind and study terms of an order depend on nothing else
        done_keys = tuple(
            f"d:{term}"
            for term, name in kb.context.study_procedures.get(region, {}).items()
            if name == order
        )
        found = memo[key] = (rating_in(kb, acr_key, order, region), kind_of(order), done_keys)
    rating, kind, done_keys = found
    first_choice = bool(studies) and studies[0] == order
    run.values.update(
        {
            "x:order_modality": kind.modality,
            "x:order_contrast": kind.iv_contrast,
            "x:order_iodinated": kind.iodinated,
            "x:order_ionising": kind.ionising,
            "x:order_in_next": order in studies,
            "x:order_first_choice": first_choice,
            "x:order_done": any(run.values.get(k) for k in done_keys),
        }
    )
    base_key = ("order-base", acr_key, order, region, rating is not None, first_choice)
    base = memo.get(base_key)
    if base is None:
        base = memo[base_key] = _base_reason(run, acr_key, order, rating is not None, first_choice)
    reasons = [base]
    if rating is None:
        verdict = "consider_alternative"
    else:
        verdict = kb.context.verdict_by_category[rating.category]
    if first_choice:
        verdict = "appropriate"
    (fired,) = run.prepared.together("order_review")(run.values)
    for rule in fired:
        then = rule.rule.then
        if then.verdict and VERDICT_RANK[then.verdict] > VERDICT_RANK[verdict]:
            verdict = then.verdict
        reason = memo.get(("order-rule", id(rule)))
        if reason is None:  # the same item for every case the rule fires in
            reason = memo[("order-rule", id(rule))] = build(
                WarningOut,
                id=rule.id,
                text=then.reason or rule.rule.title,
                cite=rule.rule.cite,
                seeds=rule.rule.seeds,
            )
        reasons.append(reason)
        run.record(rule, run.prepared.effects[id(rule)])
    for reason in reasons:
        run.cite(reason.cite)
    return build(
        OrderReview,
        order=order,
        category=rating.category if rating else None,
        rating=rating.rating if rating else None,
        rrl=rating.rrl if rating else None,
        verdict=verdict,
        alternatives=[s for s in studies if s != order],
        reasons=reasons,
    )


def _base_reason(run: Run, acr_key: str | None, order: str, rated: bool, first: bool) -> WarningOut:
    kb = run.kb
    if acr_key is None:
        return build(
            WarningOut,
            id="order.no_variant",
            text=(
                "No ACR variant covers this scenario; the order is judged against the "
                "recommended studies."
            ),
            cite=kb.context.cite,
        )
    topic, variant = kb.variants[acr_key]
    cite = topic.references or kb.context.cite
    if not rated:
        text = f"{order} is not rated in {topic.topic}, variant {variant.number}."
    else:
        rating = rating_in(kb, acr_key, order, run.facts.region)
        assert rating is not None  # noqa: S101 - rated was checked by the caller
        text = (
            f"ACR {topic.topic}, variant {variant.number}: {rating.category}"
            f" (rating {rating.rating}, radiation {rating.rrl})."
        )
    if first:
        text += " It is the study recommended first for this case."
    return build(WarningOut, id="order.acr_rating", text=text, cite=cite)
