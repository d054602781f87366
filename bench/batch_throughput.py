"""Benchmark: batch throughput end to end (JSONL in, Parquet + summary + report out).

Run ``.venv/bin/python bench/batch_throughput.py [--n 200000] [--seed 7] [--no-spark]``.

For each engine setting it runs ``run_batch`` on the same synthetic population into a new
folder and reports cases per second over the whole run (planning, worker start-up,
assessment, writing, summary and report; for Spark, session start-up is shown apart) and
the peak resident memory of the whole process tree (driver, workers, JVM), sampled from
/proc (Linux). It also times the engine alone (parse + assess, one core, in process) on
the same cases, so the batch overhead can be read off. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from spinecds import assess, default_kb, parse_case
from spinecds.batch import run_batch
from spinecds.batch.synth import generate, write_synthetic

GOAL_PER_CORE = 4_000.0  # cases/s per worker, local engine
GOAL_SCALING = 1.7  # 2 workers over 1
GOAL_SPARK_RATIO = 2.0  # Spark local[2] time over local 2-worker time, at most
GOAL_MEMORY_GIB = 1.5


def _rss_kib(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (JVM, Python workers...)."""
    children: dict[str, list[str]] = defaultdict(list)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[fields[1]].append(pid)
    total, stack = 0, [str(root)]
    while stack:
        pid = stack.pop()
        total += _rss_kib(pid)
        stack.extend(children.get(pid, []))
    return total * 1024


class PeakMemory:
    """Samples the process tree's resident memory in a thread; ``peak`` in bytes."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak = every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(os.getpid()))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_bytes(os.getpid()))


@dataclass
class Figure:
    label: str
    seconds: float
    cases: int
    peak: int
    cpu_seconds: float
    phases: dict[str, float]

    @property
    def rate(self) -> float:
        return self.cases / self.seconds


def _cpu() -> float:
    own, children = os.times()[:2], os.times()[2:4]
    return sum(own) + sum(children)


def timed_run(label: str, cases: Path, out: Path, **options: object) -> Figure:
    shutil.rmtree(out, ignore_errors=True)
    cpu = _cpu()
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = run_batch(cases, out, **options)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    cases_done = result.rows + result.rejects
    return Figure(label, seconds, cases_done, memory.peak, _cpu() - cpu, result.seconds)


def engine_alone(n: int, seed: int) -> float:
    """parse_case + assess per second on one core, in process, same population."""
    kb = default_kb()
    raw = []
    for patient in islice(generate(n, seed), n):
        data = dict(patient.case)
        del data["patient_id"], data["record_date"]
        raw.append(data)
    for data in raw[:300]:
        assess(parse_case(data, kb.vocabulary, kb.procedures), kb)
    start = time.perf_counter()
    for data in raw:
        assess(parse_case(data, kb.vocabulary, kb.procedures), kb)
    return len(raw) / (time.perf_counter() - start)


def spark_startup() -> float:
    from spinecds.batch.spark import spark_session

    start = time.perf_counter()
    spark_session("local[2]").range(1).count()
    return time.perf_counter() - start


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="synthetic cases (200000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark run")
    parser.add_argument("--only-memory", action="store_true", help="one 2-worker local run")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="spinecds-batch-bench-"))
    try:
        cases = work / "cases.jsonl"
        start = time.perf_counter()
        write_synthetic(cases, n=args.n, seed=args.seed)
        made = time.perf_counter() - start
        alone = engine_alone(min(args.n, 5_000), args.seed)
        runs: list[Figure] = []
        common = {"chunk_size": args.chunk_size}
        if not args.only_memory:
            runs.append(timed_run("local, 1 worker", cases, work / "l1", workers=1, **common))
        runs.append(timed_run("local, 2 workers", cases, work / "l2", workers=2, **common))
        startup = None
        if not args.no_spark and not args.only_memory:
            startup = spark_startup()
            runs.append(timed_run("spark local[2]", cases, work / "s2", engine="spark", **common))
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"spinecds batch benchmark  python {platform.python_version()}  cores {os.cpu_count()}  "
        f"n={args.n:,}  seed={args.seed}  chunk={args.chunk_size:,}"
    )
    print(
        f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}"
    )
    print(f"synthetic input written in {made:.1f} s ({cases.name}, JSON Lines)")
    print(f"engine alone (parse_case + assess, 1 core, in process): {alone:,.0f} cases/s")
    if startup is not None:
        print(f"spark session start-up (JVM, local[2]): {startup:.1f} s, not in the spark run")
    print()
    head = ("run", "seconds", "cases/s", "per worker", "CPU s", "peak RSS")
    print(f"{head[0]:<18} {head[1]:>8} {head[2]:>9} {head[3]:>10} {head[4]:>7} {head[5]:>10}")
    for f in runs:
        workers = 1 if "1 worker" in f.label else 2
        # Spark's Python workers are the JVM's children, never reaped by us: no CPU figure.
        cpu = "n/a" if f.label.startswith("spark") else f"{f.cpu_seconds:.1f}"
        print(
            f"{f.label:<18} {f.seconds:8.1f} {f.rate:9,.0f} {f.rate / workers:10,.0f} "
            f"{cpu:>7} {_gib(f.peak):>10}"
        )
    for f in runs:
        phases = ", ".join(f"{name} {value:.1f} s" for name, value in f.phases.items())
        print(f"  {f.label}: {phases}")
    print()
    by = {f.label: f for f in runs}
    two = by["local, 2 workers"]
    rows = [
        (
            "peak memory, local 2 workers",
            _gib(two.peak),
            f"< {GOAL_MEMORY_GIB} GiB",
            _verdict(two.peak < GOAL_MEMORY_GIB * 2**30),
        )
    ]
    if "local, 1 worker" in by:
        one = by["local, 1 worker"]
        rows.append(
            (
                "local, 1 worker, cases/s",
                f"{one.rate:,.0f}",
                f">= {GOAL_PER_CORE:,.0f}",
                _verdict(one.rate >= GOAL_PER_CORE),
            )
        )
        rows.append(
            (
                "local, 2 workers, cases/s per worker",
                f"{two.rate / 2:,.0f}",
                f">= {GOAL_PER_CORE:,.0f}",
                _verdict(two.rate / 2 >= GOAL_PER_CORE),
            )
        )
        scaling = two.rate / one.rate
        rows.append(
            (
                "scaling 1 -> 2 workers",
                f"{scaling:.2f}x",
                f">= {GOAL_SCALING}x",
                _verdict(scaling >= GOAL_SCALING),
            )
        )
    if "spark local[2]" in by:
        ratio = by["spark local[2]"].seconds / two.seconds
        rows.append(
            (
                "spark time / local 2-worker time",
                f"{ratio:.2f}",
                f"<= {GOAL_SPARK_RATIO}",
                _verdict(ratio <= GOAL_SPARK_RATIO),
            )
        )
        rows.append(("peak memory, spark local[2]", _gib(by["spark local[2]"].peak), "", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':>10}  {'goal':>10}  result")
    for label, value, goal, verdict in rows:
        print(f"{label:<{width}}  {value:>10}  {goal:>10}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
