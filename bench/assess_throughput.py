"""Benchmark: knowledge-base load time, assessment throughput and per-case latency.

Run ``.venv/bin/python bench/assess_throughput.py [--n 10000] [--seed 20261121]``.
See bench/README.md for what each figure means. Case generation is deterministic for a
given seed, and self-contained (plain ``random``; no Hypothesis).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinecds import Assessment, Case, KnowledgeBase, assess, default_kb, parse_case

GOAL_PER_SECOND = 5_000.0  # assessments per second on one core
GOAL_LOAD_MS = 200.0  # cold knowledge-base load
LOAD_RUNS = 5

_REGIONS = ("cervical", "thoracic", "lumbar")
_VERTEBRAE: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 6)),
    "S1",
)
_REGION_OF_LETTER = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "lumbar"}
_RARE_GROUPS = frozenset({"red_flag", "trauma"})

# Runs in a fresh interpreter: nothing imported, nothing in memory. Prints import and
# load times (ms). The loader keeps parsed KB files in SPINECDS_CACHE_DIR, so each run is
# pointed at a cache directory of our own: a new empty one (first start after install) or
# one filled by an earlier run (every later start).
_COLD_LOAD = """
import time
t0 = time.perf_counter()
from spinecds.knowledge.loader import default_root, load_kb
t1 = time.perf_counter()
load_kb(default_root())
t2 = time.perf_counter()
print((t1 - t0) * 1e3, (t2 - t1) * 1e3)
"""


# --- deterministic case generation -------------------------------------------------------------


def _level(rng: random.Random, region: str) -> str:
    inside = [
        i
        for i, v in enumerate(_VERTEBRAE)
        if _REGION_OF_LETTER[v[0]] == region and i + 1 < len(_VERTEBRAE)
    ]
    start = rng.choice(inside)
    end = min(start + rng.choice((1, 1, 1, 2)), len(_VERTEBRAE) - 1)
    return f"{_VERTEBRAE[start]}-{_VERTEBRAE[end]}"


def _time_ago(rng: random.Random) -> dict[str, float]:
    unit = rng.choice(("none", "weeks_ago", "months_ago", "years_ago"))
    top = {"weeks_ago": 1040, "months_ago": 240, "years_ago": 40}
    return {} if unit == "none" else {unit: float(rng.randint(0, top[unit]))}


def _finding_value(rng: random.Random, kb: KnowledgeBase, name: str) -> bool | float:
    vocab = kb.vocabulary
    if vocab.attr("finding", name, "type") == "number":
        low = int(vocab.attr("finding", name, "min") or 0)
        high = int(vocab.attr("finding", name, "max") or 0)
        return float(rng.randint(low, high))
    # Most findings a clinician records are negatives; red flags and trauma criteria most of all.
    rare = vocab.attr("finding", name, "group") in _RARE_GROUPS
    return rng.random() < (0.08 if rare else 0.3)


def _one_case(rng: random.Random, kb: KnowledgeBase, index: int) -> dict[str, Any]:
    vocab = kb.vocabulary
    surgeries = []
    for _ in range(rng.randint(0, 2)):
        procedure = rng.choice(vocab.ids("procedure"))
        region = str(vocab.attr("procedure", procedure, "region"))
        surgery: dict[str, Any] = {"procedure": procedure}
        if rng.random() < 0.6:
            surgery["levels"] = [_level(rng, region) for _ in range(rng.randint(1, 2))]
        surgery.update(_time_ago(rng))
        surgeries.append(surgery)
    data: dict[str, Any] = {
        "id": f"bench-{index:06d}",
        "surgeries": surgeries,
        "complaint": rng.sample(vocab.ids("complaint"), rng.randint(1, 3)),
    }
    if rng.random() < 0.8:
        data["age"] = float(rng.randint(18, 95))
    if rng.random() < 0.7:
        data["sex"] = rng.choice(vocab.ids("sex"))
    if rng.random() < 0.7:
        data["symptom_weeks"] = float(rng.randint(0, 104))
    if rng.random() < 0.7:
        data["course"] = rng.choice(vocab.ids("course"))
    ids = vocab.ids("finding")
    density = rng.choice((0.05, 0.15, 0.4, 0.8))
    data["findings"] = {
        name: _finding_value(rng, kb, name) for name in ids if rng.random() < density
    }
    data["imaging"] = [
        {
            "study": rng.choice(vocab.ids("study")),
            "region": rng.choice(_REGIONS),
            "weeks_ago": float(rng.randint(0, 52)),
            "findings": {
                name: rng.random() < 0.5
                for name in rng.sample(vocab.ids("imaging_finding"), rng.randint(0, 5))
            },
        }
        for _ in range(rng.randint(0, 3))
    ]
    data["treatments"] = [
        {"treatment": rng.choice(vocab.ids("treatment")), "weeks": float(rng.randint(0, 26))}
        for _ in range(rng.randint(0, 3))
    ]
    if rng.random() < 0.3:
        data["proposed_order"] = rng.choice(sorted(kb.procedures.values()))
    return data


def generate_cases(n: int, seed: int, kb: KnowledgeBase | None = None) -> list[dict[str, Any]]:
    """``n`` valid raw case dicts, the same ones for the same seed (and knowledge base)."""
    kb = kb or default_kb()
    rng = random.Random(seed)
    return [_one_case(rng, kb, i) for i in range(n)]


# --- measurements ------------------------------------------------------------------------------


def _fresh_process(cache: Path) -> tuple[float, float]:
    env = {**os.environ, "SPINECDS_CACHE_DIR": str(cache)}
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _COLD_LOAD], check=True, capture_output=True, text=True, env=env
    )
    imp, load = (float(x) for x in result.stdout.split())
    return imp, load


@dataclass(frozen=True, slots=True)
class LoadTimes:
    imports: list[float]  # ms to import the loader (and with it pydantic, yaml...)
    empty_cache: list[float]  # ms for load_kb, parse cache empty
    warm_cache: list[float]  # ms for load_kb, parse cache filled by an earlier process


def cold_load_ms(runs: int = LOAD_RUNS) -> LoadTimes:
    """``load_kb(default_root())`` in fresh interpreters, with an empty and a warm cache."""
    imports, empty, warm = [], [], []
    with tempfile.TemporaryDirectory(prefix="spinecds-bench-") as tmp:
        for i in range(runs):
            imp, load = _fresh_process(Path(tmp) / f"empty-{i}")
            imports.append(imp)
            empty.append(load)
        shared = Path(tmp) / "warm"
        _fresh_process(shared)  # fills the cache; not counted
        for _ in range(runs):
            imp, load = _fresh_process(shared)
            imports.append(imp)
            warm.append(load)
    return LoadTimes(imports, empty, warm)


def throughput(cases: list[Case], kb: KnowledgeBase) -> float:
    """Assessments per second: ``assess`` only, over pre-parsed cases, one thread."""
    for case in cases[: min(200, len(cases))]:  # warm up caches and lazy imports
        assess(case, kb)
    start = time.perf_counter()
    for case in cases:
        assess(case, kb)
    return len(cases) / (time.perf_counter() - start)


def latencies_us(raw: list[dict[str, Any]], kb: KnowledgeBase) -> list[float]:
    """Time of ``parse_case`` + ``assess`` for each case, in microseconds."""
    out = []
    clock = time.perf_counter_ns
    for data in raw:
        start = clock()
        result: Assessment = assess(parse_case(data, kb.vocabulary, kb.procedures), kb)
        out.append((clock() - start) / 1e3)
        del result
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("figure", "value", "goal", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="generated cases (default 10000)")
    parser.add_argument("--seed", type=int, default=20261121, help="generator seed")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    loads = cold_load_ms()
    empty_ms = statistics.median(loads.empty_cache)
    warm_ms = statistics.median(loads.warm_cache)

    kb = default_kb()
    raw = generate_cases(args.n, args.seed, kb)
    parsed = [parse_case(d, kb.vocabulary, kb.procedures) for d in raw]
    per_second = throughput(parsed, kb)
    lat = latencies_us(raw, kb)
    p50, p99 = percentile(lat, 50), percentile(lat, 99)

    mix: dict[str, int] = {}
    for case in parsed[:1000]:
        urgency = assess(case, kb).urgency
        mix[urgency] = mix.get(urgency, 0) + 1

    load_goal = f"< {GOAL_LOAD_MS:,.0f} ms"
    rows = [
        (
            f"KB load, cold, empty cache (median of {LOAD_RUNS})",
            f"{empty_ms:,.1f} ms",
            load_goal,
            _verdict(empty_ms < GOAL_LOAD_MS),
        ),
        (
            f"KB load, cold, warm cache (median of {LOAD_RUNS})",
            f"{warm_ms:,.1f} ms",
            load_goal,
            _verdict(warm_ms < GOAL_LOAD_MS),
        ),
        ("import spinecds loader (median)", f"{statistics.median(loads.imports):,.1f} ms", "", ""),
        (
            f"assess throughput, 1 core ({len(parsed):,} cases)",
            f"{per_second:,.0f} /s",
            f">= {GOAL_PER_SECOND:,.0f} /s",
            _verdict(per_second >= GOAL_PER_SECOND),
        ),
        ("parse+assess latency p50", f"{p50:,.0f} us", "", ""),
        ("parse+assess latency p99", f"{p99:,.0f} us", "", ""),
    ]
    print(
        f"spinecds benchmark  python {platform.python_version()}  "
        f"knowledge {kb.version}  n={args.n}  seed={args.seed}"
    )
    print("load runs, empty cache (ms):", ", ".join(f"{x:.1f}" for x in loads.empty_cache))
    print("load runs, warm cache (ms): ", ", ".join(f"{x:.1f}" for x in loads.warm_cache))
    shown = ", ".join(f"{k} {v}" for k, v in sorted(mix.items()))
    print(f"urgency mix of the first {min(1000, len(parsed))} cases: {shown}")
    print()
    print(_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
