"""Mutation testing: change the code one small step at a time and check that a test fails.

    python scripts/mutation.py [--target NAME ...] [--module PATH ...] [--limit N]
                               [--seed S] [--list] [--jobs N]

What to mutate and which tests must catch it are read from ``[tool.mutation]`` in
pyproject.toml (targets: a name, module paths, test paths, and per module a narrower
test selection under ``module_tests``). ``--limit N`` tests a seeded random sample of
N mutants per module: the same seed picks the same mutants, so a score can be
measured again after a test is added. Each mutant is one edit
of the module's syntax tree (a comparison or boolean operator flipped, a condition
negated, a constant changed, a call statement or a ``return`` value dropped); the
mutated module is written into a scratch copy of the checkout and the target's tests
run there with ``pytest -x``. A mutant is killed when the tests fail or time out, and
survives when they pass. Prints the share killed per module and every survivor.

Each job runs in its own copy with its own test database suffix and Redis db
indexes, so it can run next to ``make test``. Not part of CI: it takes a while.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Queue
from typing import TypeVar

try:
    import tomllib
except ImportError:  # Python 3.10
    sys.exit("scripts/mutation.py needs Python 3.11 or later (tomllib)")

ROOT = Path(__file__).resolve().parent.parent

COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BINARY_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
}
T = TypeVar("T")
R = TypeVar("R")
DEFAULT_SEED = 14
# Calls whose removal only changes what is logged; not counted as mutants.
QUIET_CALLS = ("logger.", "logging.", "warnings.warn")


@dataclass
class Mutant:
    module: str
    index: int
    line: int
    description: str


@dataclass
class Outcome:
    mutant: Mutant
    killed: bool
    seconds: float
    detail: str


def _is_docstring(node: ast.AST, parent: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and isinstance(parent, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    )


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _in_annotation_or_type_check(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.arg | ast.AnnAssign) and node is parent.annotation:
            return True
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef) and node is parent.returns:
            return True
        if isinstance(parent, ast.If) and ast.unparse(parent.test).endswith("TYPE_CHECKING"):
            return True
        node = parent
    return False


def mutations(tree: ast.Module) -> Iterator[tuple[ast.AST, str, object]]:
    """(node, description, replacement) for every mutation of ``tree``.

    The replacement is applied by ``apply``: an operator type, a new node, or None
    (delete the statement).
    """
    parents = _parents(tree)
    for node in ast.walk(tree):
        if _in_annotation_or_type_check(node, parents):
            continue
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                swap = COMPARE_SWAPS.get(type(op))
                if swap:
                    yield node, f"{_op(op)} -> {_op(swap())}", ("compare", position, swap)
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            yield node, f"{_op(node.op)} -> {_op(other())}", ("boolop", other)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop `not`", ("unwrap", node.operand)
        elif isinstance(node, ast.If | ast.While | ast.IfExp) and not isinstance(
            node.test, ast.Compare | ast.UnaryOp | ast.BoolOp
        ):
            negated = ast.UnaryOp(op=ast.Not(), operand=node.test)
            yield node, f"negate `{ast.unparse(node.test)[:40]}`", ("test", negated)
        elif isinstance(node, ast.BinOp) and type(node.op) in BINARY_SWAPS:
            swap = BINARY_SWAPS[type(node.op)]
            yield node, f"{_op(node.op)} -> {_op(swap())}", ("binop", swap)
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINARY_SWAPS:
            swap = BINARY_SWAPS[type(node.op)]
            yield node, f"{_op(node.op)}= -> {_op(swap())}=", ("binop", swap)
        elif isinstance(node, ast.Constant) and not isinstance(parents.get(node), ast.Expr):
            value = node.value
            if isinstance(value, bool):
                yield node, f"{value} -> {not value}", ("constant", not value)
            elif isinstance(value, int) and not isinstance(parents.get(node), ast.Subscript):
                yield node, f"{value} -> {value + 1}", ("constant", value + 1)
        elif isinstance(node, ast.Return) and node.value is not None:
            # return None/True/False: the constant's own mutant covers it
            if not isinstance(node.value, ast.Constant):
                yield node, f"return {ast.unparse(node.value)[:40]} -> return None", ("return",)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call | ast.Await):
            if _is_docstring(node, parents.get(node)):
                continue
            text = ast.unparse(node.value)
            if not text.startswith(QUIET_CALLS):
                yield node, f"drop `{text[:50]}`", ("delete",)


_OPS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.GtE: ">=",
    ast.Gt: ">",
    ast.LtE: "<=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.And: "and",
    ast.Or: "or",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Div: "/",
}


def _op(op: object) -> str:
    return _OPS.get(type(op), type(op).__name__)


def apply(tree: ast.Module, index: int) -> str:
    """The source of ``tree`` with its ``index``-th mutation applied."""
    mutated = copy.deepcopy(tree)
    node, _description, change = list(mutations(mutated))[index]
    kind = change[0]  # type: ignore[index]
    if kind == "compare":
        _, position, swap = change  # type: ignore[misc]
        node.ops[position] = swap()  # type: ignore[attr-defined]
    elif kind in ("boolop", "binop"):
        node.op = change[1]()  # type: ignore[attr-defined, index]
    elif kind == "test":
        node.test = change[1]  # type: ignore[attr-defined, index]
    elif kind == "constant":
        node.value = change[1]  # type: ignore[attr-defined, index]
    elif kind == "return":
        node.value = None  # type: ignore[attr-defined]
    elif kind in ("unwrap", "delete"):
        replacement = change[1] if kind == "unwrap" else ast.Pass()  # type: ignore[index]
        _replace(mutated, node, replacement)
    return ast.unparse(ast.fix_missing_locations(mutated))


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(item is old for item in value):
                value[[id(item) for item in value].index(id(old))] = new
                return


def list_mutants(
    module: str, limit: int | None, root: Path = ROOT, seed: int = DEFAULT_SEED
) -> list[Mutant]:
    """The module's mutants in line order; with ``limit``, a sample seeded by
    ``seed`` and the module's path (the same seed picks the same mutants)."""
    tree = ast.parse((root / module).read_text())
    found = [
        Mutant(module, index, getattr(node, "lineno", 0), description)
        for index, (node, description, _change) in enumerate(mutations(tree))
    ]
    if limit and len(found) > limit:
        found = random.Random(f"{seed}:{module}").sample(found, limit)
    found.sort(key=lambda m: (m.line, m.index))
    return found


DROP_TEST_DATABASE = """
import django
django.setup()
from django.db import connections
for connection in connections.all():  # "other" too: tests that ask for it create it
    if connection.vendor == "sqlite":  # SQLite's file goes with the copy
        continue
    try:
        connection.creation._destroy_test_db(connection.settings_dict["TEST"]["NAME"], 0)
    except Exception:  # never created by this run
        pass
"""


class Sandbox:
    """A scratch copy of the checkout with its own test database and Redis db indexes."""

    def __init__(self, number: int, redis_db: int) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"distcache-mutation-{number}-"))
        files = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.split(b"\0")
        for name in filter(None, (f.decode() for f in files)):
            source = ROOT / name
            if source.is_file():
                target = self.path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        if (ROOT / ".services.env").exists():
            shutil.copy2(ROOT / ".services.env", self.path / ".services.env")
        suffix = os.environ.get("DISTCACHE_TEST_SUFFIX", "")
        self.env = {
            **os.environ,
            "PYTHONPATH": str(self.path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DISTCACHE_TEST_SUFFIX": f"{suffix}_mut{number}",
            "DISTCACHE_TEST_REDIS_DB": str(redis_db),
            "DISTCACHE_TEST_CELERY_DB": str(redis_db + 1),
        }
        self.running: subprocess.Popen[str] | None = None

    def run_tests(self, tests: list[str], timeout: float) -> tuple[bool, str]:
        """(passed, the failed tests and the last line of the output)."""
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        # Its own process group: a timeout or an interrupt stops the tests' workers too.
        process = subprocess.Popen(
            [*command, "--reuse-db", *tests],
            cwd=self.path,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.running = process
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout:.0f} s"
        finally:
            self.running = None
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        lines = output.strip().splitlines()
        failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
        return process.returncode == 0, "\n".join([*failed, *lines[-1:]])

    def stop_tests(self) -> None:
        """Kill the tests running in this copy (from another thread), and their workers."""
        process = self.running
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def restore(self, module: str, source: str) -> None:
        (self.path / module).write_text(source)

    def drop_test_database(self) -> None:
        """pytest --reuse-db kept the test database between mutants; drop it now."""
        subprocess.run(
            [sys.executable, "-c", DROP_TEST_DATABASE],
            cwd=self.path,
            env={**self.env, "DJANGO_SETTINGS_MODULE": "tests.settings"},
            capture_output=True,
            timeout=120,
            check=False,
        )

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def load_config() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["mutation"]


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", action="append", help="a target name of the config")
    parser.add_argument("--module", action="append", help="only these module paths")
    parser.add_argument("--limit", type=int, help="at most N mutants per module (a sample)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the --limit sample")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--report", type=Path, help="write every outcome as JSON here")
    parser.add_argument(
        "--redis-db", type=int, help="first Redis db of the jobs (default: the config's)"
    )
    return parser.parse_args()


def _stop(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds: test groups killed, copies removed


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    args = _parse_args()
    config = load_config()
    targets = [t for t in config["targets"] if not args.target or t["name"] in args.target]
    if not targets:
        names = ", ".join(t["name"] for t in config["targets"])
        sys.exit(f"no such target; the config has: {names}")
    if args.list:
        plan = _plan(targets, args, ROOT)
        for mutant, _tests in plan:
            print(f"{mutant.module}:{mutant.line}: {mutant.description}")
        print(f"{len(plan)} mutants")
        return 0
    # Each job uses three Redis dbs from redis_db on: the cache, the broker, the results.
    base_db = args.redis_db if args.redis_db is not None else int(config.get("redis_db", 4))
    sandboxes: Queue[Sandbox] = Queue()
    created = [Sandbox(n, base_db + 3 * n) for n in range(args.jobs)]
    for sandbox in created:
        sandboxes.put(sandbox)
    try:
        # Planned on the sandbox's copy: the checkout may change while this runs.
        return _run(_plan(targets, args, created[0].path), sandboxes, created, config, args)
    finally:
        for sandbox in created:
            sandbox.drop_test_database()
            sandbox.remove()


def _plan(
    targets: list[dict], args: argparse.Namespace, root: Path
) -> list[tuple[Mutant, list[str]]]:
    plan: list[tuple[Mutant, list[str]]] = []
    for target in targets:
        deselect = [f"--deselect={test}" for test in target.get("deselect", [])]
        narrow = target.get("module_tests", {})
        for module in target["modules"]:
            if args.module and module not in args.module:
                continue
            tests = [*narrow.get(module, target["tests"]), *deselect]
            plan += [(m, tests) for m in list_mutants(module, args.limit, root, args.seed)]
    return plan


def _command(args: argparse.Namespace) -> str:
    """The command that measures the same sample again."""
    parts = ["python", "scripts/mutation.py"]
    for name in args.target or []:
        parts += ["--target", name]
    for module in args.module or []:
        parts += ["--module", module]
    if args.limit:
        parts += ["--limit", str(args.limit), "--seed", str(args.seed)]
    return shlex.join(parts)


def _run(plan, sandboxes, created, config, args) -> int:  # type: ignore[no-untyped-def]
    print(f"command: {_command(args)} ({len(plan)} mutants)", flush=True)
    timeout_floor = float(config.get("timeout", 600))
    test_sets = sorted({tuple(tests) for _m, tests in plan})
    baseline: dict[tuple[str, ...], float] = {}

    def base(tests: tuple[str, ...]) -> tuple[bool, str]:
        sandbox = sandboxes.get()
        try:
            started = time.monotonic()
            passed, detail = sandbox.run_tests(list(tests), timeout_floor)
            baseline[tests] = time.monotonic() - started
        finally:
            sandboxes.put(sandbox)
        print(f"baseline {' '.join(tests)}: {baseline[tests]:.0f} s", flush=True)
        return passed, detail

    for tests, (passed, detail) in zip(
        test_sets, _map(base, test_sets, args.jobs, created), strict=True
    ):
        if not passed:
            print(f"the tests fail without any mutant ({' '.join(tests)}): {detail}")
            return 2
    # Read once: edits to the checkout while this runs do not leak into the sandboxes.
    sources = {m.module: (created[0].path / m.module).read_text() for m, _t in plan}
    trees = {module: ast.parse(source) for module, source in sources.items()}

    def one(item: tuple[Mutant, list[str]]) -> Outcome:
        mutant, tests = item
        sandbox = sandboxes.get()
        try:
            (sandbox.path / mutant.module).write_text(apply(trees[mutant.module], mutant.index))
            timeout = max(60.0, 3 * baseline[tuple(tests)])
            started = time.monotonic()
            passed, detail = sandbox.run_tests(tests, timeout)
            outcome = Outcome(mutant, not passed, time.monotonic() - started, detail)
        finally:
            sandbox.restore(mutant.module, sources[mutant.module])
            sandboxes.put(sandbox)
        state = "killed  " if outcome.killed else "SURVIVED"
        print(
            f"{state} {mutant.module}:{mutant.line}: {mutant.description} "
            f"({outcome.seconds:.0f} s)",
            flush=True,
        )
        return outcome

    outcomes = _map(one, plan, args.jobs, created)
    _summary(outcomes)
    print(f"\ncommand: {_command(args)}")
    if args.report:
        args.report.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    return 0


def _map(func: Callable[[T], R], items: list[T], jobs: int, created: list[Sandbox]) -> list[R]:
    """``func`` over ``items``, ``jobs`` at a time; an interrupt kills the running tests."""
    if jobs == 1:  # in this thread, so that an interrupt stops the tests at once
        return [func(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        return list(pool.map(func, items))
    except BaseException:
        for sandbox in created:
            sandbox.stop_tests()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _summary(outcomes: list[Outcome]) -> None:
    print("\nmodule                                   killed / mutants")
    by_module: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_module.setdefault(outcome.mutant.module, []).append(outcome)
    for module, items in by_module.items():
        killed = sum(o.killed for o in items)
        print(f"{module:40} {killed:4} / {len(items):<4} {100 * killed / len(items):5.1f}%")
    total = sum(o.killed for o in outcomes)
    if outcomes:
        print(f"{'all':40} {total:4} / {len(outcomes):<4} {100 * total / len(outcomes):5.1f}%")
    survivors = [o for o in outcomes if not o.killed]
    if survivors:
        print("\nsurvivors (a test should fail for each, unless the mutant is equivalent):")
        for o in survivors:
            print(f"  {o.mutant.module}:{o.mutant.line}: {o.mutant.description}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: the running tests were stopped and the copies removed")
