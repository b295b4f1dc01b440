"""make bench: every benchmarks/bench_*.py in one run, one combined table, and JSON.

python benchmarks/run.py [NAMES...] [--json PATH]
Each module's own output comes first; then every contender that a module reported
through harness.report() (or harness.record()) in one table, written to JSON too.
"""

import argparse
import json
import platform
import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.harness import CURRENT, RECORDED  # noqa: E402


def combined_table(rows: list[dict]) -> str:
    header = f"{'benchmark':<22}{'contender':<34}{'ops/s':>10}{'p50 us':>9}{'p99 us':>9}  vs base"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['benchmark'][:21]:<22}{row['contender'][:33]:<34}{row['ops_per_second']:>10,.0f}"
            f"{row['p50_us']:>9.1f}{row['p99_us']:>9.1f}  {row['vs_baseline']:.2f}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="bench_* module names (default: all)")
    parser.add_argument("--json", default="bench-results.json", help="where to write results")
    args = parser.parse_args()
    ran = []
    for script in sorted(HERE.glob("bench_*.py")):
        if args.names and script.stem not in args.names:
            continue
        print(f"\n== {script.stem} ==", flush=True)
        started = time.perf_counter()
        CURRENT["benchmark"] = script.stem.removeprefix("bench_")
        runpy.run_path(str(script), run_name="__main__")
        ran.append({"module": script.stem, "seconds": round(time.perf_counter() - started, 1)})
    print("\n== all contenders ==")
    print(combined_table(RECORDED))
    machine = {"python": platform.python_version(), "machine": platform.machine(),
               "processor": platform.processor(), "system": platform.platform()}  # fmt: skip
    Path(args.json).write_text(
        json.dumps({"machine": machine, "modules": ran, "results": RECORDED}, indent=2)
    )
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
