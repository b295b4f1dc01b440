"""make bench: django_distcache against its peers and the redis-py floor, in one run.

python benchmarks/run.py [--quick] [--json PATH] [--modules [NAMES...]]

Every system runs in worker processes of its own (only its app installed), and the systems
take turns in short segments, the order shuffled per round, so a busy machine slows all
alike: the bare redis-py floor, no cache (the plain ORM), django-cacheops, django-cachalot,
django_distcache and, when ``register()`` accepts ``near_cache``, django_distcache with
its near cache. Peers that are not installed (``pip install -e '.[bench]'``) are skipped
and named. Sections: the mixed workload at 1 and 2 processes and 0, 5 and 20% writes; a
stampede; write-behind ingestion and flush; warming. One table is printed and the rows
are written as JSON. ``--quick`` (or BENCH_QUICK=1) is a smoke run of a few seconds on a
small catalogue in a database of its own; its figures mean nothing. ``--modules`` runs the
older per-topic ``bench_*.py`` scripts instead (outages, cluster, statistics cost...).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import runpy
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SYSTEMS = {
    "floor": "redis-py GET (floor)",
    "orm": "no cache (plain ORM)",
    "cacheops": "django-cacheops",
    "cachalot": "django-cachalot",
    "distcache": "django_distcache",
    "distcache_near": "django_distcache + near cache",
}
PEERS = {"cacheops": "cacheops", "cachalot": "cachalot"}  # system -> module to find


@dataclass(frozen=True)
class Plan:
    """How much of everything one run measures."""

    rows: int = 10_000
    rounds: int = 3  # per system and write share; the median is shown
    seconds: float = 3.0  # per segment
    processes: tuple[int, ...] = (1, 2)
    writes: tuple[float, ...] = (0.0, 0.05, 0.20)
    stampede_readers: int = 32
    stampede_rounds: int = 10
    ingest_writes: int = 5_000
    ingest_rounds: int = 4


QUICK = Plan(rows=400, rounds=1, seconds=0.25, stampede_readers=8, stampede_rounds=2,
             ingest_writes=200, ingest_rounds=1)  # fmt: skip


def available(skipped: dict[str, str]) -> list[str]:
    """The systems this environment can run; why the others are skipped, in ``skipped``."""
    systems = []
    for system in SYSTEMS:
        module = PEERS.get(system)
        if module and importlib.util.find_spec(module) is None:
            skipped[SYSTEMS[system]] = "not installed (pip install -e '.[bench]')"
            continue
        if system == "distcache_near" and not near_cache_exists():
            skipped[SYSTEMS[system]] = "register() has no near_cache option yet"
            continue
        systems.append(system)
    return systems


def near_cache_exists() -> bool:
    import inspect

    from django_distcache.registry import register

    return "near_cache" in inspect.signature(register).parameters


def row(section: str, variant: str, system: str, part: dict[str, Any], rate: float) -> dict:
    """A table row from a worker's answer (ops, latencies in us, queries, stale)."""
    latencies = sorted(part["latencies"]) or [None]
    return {
        "section": section,
        "variant": variant,
        "system": system,
        "label": SYSTEMS[system],
        "ops": part["ops"],
        "ops_per_second": rate,
        "p50_us": latencies[len(latencies) // 2],
        "p99_us": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],  # type: ignore[index]
        "queries": part["queries"],
        "stale": part["stale"],
    }


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"ops": 0, "latencies": [], "queries": 0, "stale": 0}
    for part in parts:
        for name in ("ops", "queries", "stale"):
            out[name] += part[name]
        out["latencies"] += part["latencies"]
    return out


def mixed(systems: list[str], plan: Plan, procs: int) -> list[dict]:
    """The mixed workload (and, in one process, warming by reads and the stampede)."""
    from benchmarks.bench_mixed import Workers

    workers = {system: Workers(system, procs) for system in systems}
    rows: list[dict] = []
    try:
        for group in workers.values():
            group.ready()
        progress(f"{procs} process(es): every object read once")
        for system in systems:  # every key read once: an empty cache filled by reads
            parts = workers[system].warm()
            if procs == 1:
                [part] = parts
                rate = part["warmed"] / part["seconds"]
                variant = f"{part['warmed']:,} objects read once into an empty cache"
                sample = {"ops": part["warmed"], "latencies": [], "queries": part["queries"]}
                warmed = row("warming", variant, system, {**sample, "stale": 0}, rate)
                if system == "floor":
                    warmed["label"] = "redis-py GET, load, SET (floor)"
                rows.append(warmed)
        rng = random.Random(procs)
        for writes in plan.writes:
            progress(f"{procs} process(es): the mixed workload, {writes:.0%} writes")
            rounds: dict[str, list[dict]] = {system: [] for system in systems}
            rates: dict[str, list[float]] = {system: [] for system in systems}
            for number in range(plan.rounds):
                order = list(systems)
                rng.shuffle(order)
                for system in order:
                    parts = workers[system].run(plan.seconds, writes, number + 1)
                    rounds[system] += parts
                    rates[system].append(sum(p["ops"] for p in parts) / plan.seconds)
            variant = f"{procs} process{'es' if procs > 1 else ''}, {writes:.0%} writes"
            for system in systems:
                median = statistics.median(rates[system])
                rows.append(row("mixed workload", variant, system, merged(rounds[system]), median))
        if procs == 1:
            progress("the stampede")
            variant = f"{plan.stampede_readers} concurrent misses on one list after a write"
            stampedes: dict[str, list[dict]] = {system: [] for system in systems}
            for number in range(plan.stampede_rounds):  # one each, in turns
                order = list(systems)
                rng.shuffle(order)
                for system in order:
                    command = f"stampede {plan.stampede_readers} 1 {number}"
                    stampedes[system] += workers[system].ask(command)
            for system in systems:
                part = merged(stampedes[system])
                rate = part["ops"] / sum(p["seconds"] for p in stampedes[system])
                rows.append(row("stampede", variant, system, part, rate))
    finally:
        for group in workers.values():
            group.close()
    return rows


def progress(step: str) -> None:
    print(f"  ... {step}", file=sys.stderr, flush=True)


def ingest(plan: Plan) -> list[dict]:
    """Write-behind ingestion and flush, and warm(), in a process of their own."""
    progress("write-behind and warm()")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.settings"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", str(plan.ingest_writes),
         str(plan.ingest_rounds)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"benchmarks.ingest failed:\n{out.stderr}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for item in rows:
        item.setdefault("p50_us", None)
        item.setdefault("p99_us", None)
        item.setdefault("stale", None)
    return rows


def ratios(rows: list[dict]) -> None:
    """Per section and variant: each row against the floor, and django_distcache (with
    and without the near cache) against each row, by throughput."""
    groups: dict[tuple[str, str], dict[str, float]] = {}
    for item in rows:
        groups.setdefault((item["section"], item["variant"]), {})[item["system"]] = item[
            "ops_per_second"
        ]
    for item in rows:
        rates = groups[(item["section"], item["variant"])]
        own = item["ops_per_second"]
        item["vs_floor"] = own / rates["floor"] if "floor" in rates and own else None
        for ours in ("distcache", "distcache_near"):
            item[f"{ours}_vs_this"] = rates[ours] / own if ours in rates and own else None


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def table(rows: list[dict], near: bool) -> str:
    """The one table: a heading per section and variant, a line per system."""
    head = (
        f"  {'system':<34}{'ops/s':>10}{'p50 us':>9}{'p99 us':>9}{'q/1k ops':>10}{'stale':>7}"
        f"{'x floor':>9}{'dc/this':>9}" + (f"{'dc+near/this':>14}" if near else "")
    )
    lines = [head, "-" * len(head)]
    current = None
    for item in rows:
        if (item["section"], item["variant"]) != current:
            current = (item["section"], item["variant"])
            lines.append(f"{item['section']} | {item['variant']}")
        per_1k = 1000 * item["queries"] / item["ops"] if item["ops"] else None
        lines.append(
            f"  {item['label'][:33]:<34}{item['ops_per_second']:>10,.0f}"
            f"{_number(item['p50_us'], '.0f'):>9}{_number(item['p99_us'], '.0f'):>9}"
            f"{_number(per_1k, ',.0f'):>10}{_number(item['stale'], 'd'):>7}"
            f"{_ratio(item['vs_floor']):>9}{_ratio(item['distcache_vs_this']):>9}"
            + (f"{_ratio(item['distcache_near_vs_this']):>14}" if near else "")
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    from django_distcache.redis.client import get_redis

    return {
        "python": platform.python_version(),
        "system": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "redis": get_redis().info("server").get("redis_version"),
    }


def compare(plan: Plan, quick: bool, json_path: str) -> None:
    if quick:  # a catalogue of its own: the full run's stays as it is
        os.environ["DISTCACHE_BENCH_DB"] = os.environ.get("DISTCACHE_BENCH_DB", "distcache_bench")
        os.environ["DISTCACHE_BENCH_DB"] += "_quick"
    os.environ["DISTCACHE_BENCH_ROWS"] = str(plan.rows)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.mixed_settings")
    from benchmarks.bench_mixed import prepare_catalogue

    started = time.perf_counter()
    prepare_catalogue()
    skipped: dict[str, str] = {}
    systems = available(skipped)
    before = machine()
    print(f"make bench{' --quick (a smoke run: figures mean nothing)' if quick else ''}: "
          f"{', '.join(SYSTEMS[s] for s in systems)}; load average {before['load_average']}",
          flush=True)  # fmt: skip
    rows = []
    for procs in plan.processes:
        rows += mixed(systems, plan, procs)
    rows += ingest(plan)
    order = {"mixed workload": 0, "stampede": 1, "write-behind ingest": 2}
    order |= {"write-behind flush": 3, "warming": 4}
    rows.sort(key=lambda item: order[item["section"]])  # stable: systems keep their order
    ratios(rows)
    print(table(rows, "distcache_near" in systems))
    for name, reason in skipped.items():
        print(f"skipped: {name}: {reason}")
    after = machine()
    report = {
        "quick": quick,
        "plan": plan.__dict__,
        "machine": {**before, "load_average_after": after["load_average"]},
        "seconds": round(time.perf_counter() - started, 1),
        "systems": {s: SYSTEMS[s] for s in systems},
        "skipped": skipped,
        "rows": rows,
    }
    Path(json_path).write_text(json.dumps(report, indent=2))
    print(
        f"load average {before['load_average']} before, {after['load_average']} after; "
        f"{report['seconds']} s; wrote {json_path}"
    )


def modules(names: list[str], json_path: str) -> None:
    """The per-topic bench_*.py scripts, each's output, then their contenders in one table."""
    from benchmarks.harness import CURRENT, RECORDED

    for script in sorted(HERE.glob("bench_*.py")):
        if names and script.stem not in names:
            continue
        print(f"\n== {script.stem} ==", flush=True)
        CURRENT["benchmark"] = script.stem.removeprefix("bench_")
        runpy.run_path(str(script), run_name="__main__")
    print("\n== all contenders ==")
    for item in RECORDED:
        print(
            f"{str(item['benchmark'])[:21]:<22}{str(item['contender'])[:33]:<34}"
            f"{item['ops_per_second']:>10,.0f}{item['p50_us']:>9.1f}{item['p99_us']:>9.1f}"
            f"  {item['vs_baseline']:.2f}x"
        )
    Path(json_path).write_text(json.dumps({"results": RECORDED}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser.add_argument("--quick", action="store_true", default=quick, help="a smoke run")
    parser.add_argument("--json", default="bench-results.json", help="where to write the rows")
    parser.add_argument("--modules", nargs="*", help="run bench_*.py scripts instead")
    args = parser.parse_args()
    if args.modules is not None:
        modules(args.modules, args.json)
    else:
        compare(QUICK if args.quick else Plan(), args.quick, args.json)


if __name__ == "__main__":
    main()
