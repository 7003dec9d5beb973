"""Code tests: a gate that runs the task's tests against a candidate, in the sandbox.

The candidate and the tests are run together by a small harness inside
engine/judges/sandbox.py's process (limits, and bubblewrap where installed). The
verdict names what failed — the test, the line of the test file, the error —
or why the run was stopped (time, memory, …). All tests passing solves the node.

The harness reports through a line marked with a random key it reads from its
standard input, so code that merely prints "passed" or exits early fails. Code
running in the same process that sets out to forge the report could still find
the key; the sandbox keeps such code from harming the machine, not from lying.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Protocol, runtime_checkable

from treelight.engine.judges.base import Judge, JudgeContext, JudgeOptions, Verdict
from treelight.engine.judges.sandbox import Limits, run_python
from treelight.engine.options import Field
from treelight.engine.tasks.code import test_names
from treelight.engine.types import NodeView

HARNESS = r"""import ast, builtins, contextlib, json, re, sys, traceback, types
_key = sys.stdin.readline().strip()
SOLUTION = %(solution)r
TESTS = %(tests)r
SETUP = %(setup)r
ENTRY_POINT = %(entry_point)r
_TESTS_TREE = ast.parse(TESTS)
_ASSERTS = {n.lineno: n for n in ast.walk(_TESTS_TREE) if isinstance(n, ast.Assert)}

def _got(frame, line):
    # For a failing `assert left == right`: what the left side really was.
    test = getattr(_ASSERTS.get(line), "test", None)
    if not isinstance(test, ast.Compare) or [type(op) for op in test.ops] != [ast.Eq]:
        return ""
    try:
        left = compile(ast.Expression(test.left), "tests.py", "eval")
        value = eval(left, frame.f_globals, frame.f_locals)
    except BaseException:
        return ""
    return f"; {ast.unparse(test.left)} gave {value!r}"[:300]

def _where(error, filename, source):
    frames = [
        (frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
        if frame.f_code.co_filename == filename
    ]
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if not frames:
        return message
    frame, line = frames[-1]
    lines = source.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    got = _got(frame, line) if filename == "tests.py" and isinstance(error, AssertionError) else ""
    return f"{filename} line {line}: {text} -> {message}{got}"

# A little of pytest, for test files written for it (no site-packages here).
_pytest = types.ModuleType("pytest")
@contextlib.contextmanager
def _raises(expected, match=None):
    try:
        yield
    except expected as error:
        if match is not None and not re.search(match, str(error)):
            raise AssertionError(f"{error!r} does not match {match!r}")
        return
    raise AssertionError(f"DID NOT RAISE {expected}")
def _approx(expected, rel=1e-6, abs=1e-12):
    tolerance = max(rel * builtins.abs(expected), abs)
    class _Approx:
        def __eq__(self, other):
            return builtins.abs(other - expected) <= tolerance
        def __repr__(self):
            return f"approx({expected!r})"
    return _Approx()
_pytest.raises, _pytest.approx = _raises, _approx
sys.modules["pytest"] = _pytest

_results = {}
def _report():
    sys.stdout.write("\n" + _key + json.dumps(_results) + "\n")
    sys.stdout.flush()

_solution = {"__name__": "solution"}
try:
    exec(compile(SETUP, "setup.py", "exec"), _solution)
except BaseException as error:
    _results["(the setup code)"] = _where(error, "setup.py", SETUP)
    _report()
    raise SystemExit(0)
try:
    exec(compile(SOLUTION, "solution.py", "exec"), _solution)
except BaseException as error:
    _results["(the solution itself)"] = _where(error, "solution.py", SOLUTION)
    _report()
    raise SystemExit(0)
sys.modules["solution"] = types.ModuleType("solution")
sys.modules["solution"].__dict__.update(_solution)
_tests = dict(_solution)
_tests["__name__"] = "tests"
# Top-level statements one by one, so a failing assert does not hide the tests below
# it; each assert is a test of its own, and any other statement that fails is reported.
for _statement in _TESTS_TREE.body:
    _is_assert = isinstance(_statement, ast.Assert)
    _label = f"assert on line {_statement.lineno}" if _is_assert else None
    try:
        exec(compile(ast.Module([_statement], []), "tests.py", "exec"), _tests)
        if _label:
            _results[_label] = None
    except BaseException as error:
        _results[_label or f"line {_statement.lineno}"] = _where(error, "tests.py", TESTS)
for _name, _test in list(_tests.items()):
    if _name.startswith("test") and callable(_test) and getattr(_test, "__module__", "") == "tests":
        try:
            _test()
            _results[_name] = None
        except BaseException as error:
            _results[_name] = _where(error, "tests.py", TESTS)
# HumanEval's form: check(candidate), called with the function the task names.
if ENTRY_POINT and callable(_tests.get("check")):
    _label = f"check({ENTRY_POINT})"
    if not callable(_solution.get(ENTRY_POINT)):
        _results[_label] = f"the code defines no function {ENTRY_POINT}"
    else:
        try:
            _tests["check"](_solution[ENTRY_POINT])
            _results[_label] = None
        except BaseException as error:
            _results[_label] = _where(error, "tests.py", TESTS)
_report()
"""


@runtime_checkable
class HasTests(Protocol):
    """A task that carries tests for its answers (the code task): the tests, code to
    run before the candidate, and the function a check(candidate) is called with."""

    tests: str
    setup: str
    entry_point: str | None


class CodeTests(Judge):
    name = "code-tests"
    tasks = ("code",)
    free = True
    default_role = "gate"
    description = "Runs the code task's tests against each candidate in the sandbox."

    class Options(JudgeOptions):
        seconds: float = Field(10.0, gt=0, le=300, description="wall-clock limit for the tests")

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        seconds = float(self.options["seconds"])
        self.limits = Limits(wall_seconds=seconds, cpu_seconds=max(1, int(seconds)))

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        if not isinstance(ctx.task, HasTests):
            return [Verdict(None, None, "this task has no tests") for _ in nodes]
        return [self.run_tests(node.state.get("answer"), ctx.task) for node in nodes]

    def run_tests(self, code: str | None, task: HasTests) -> Verdict:
        """The verdict on one program (also how a dataset's reference solutions are
        checked: `treelight eval --check-references`)."""
        if not code:
            return Verdict(None, None, "no code to test yet")
        expected = test_names(task.tests, task.entry_point)
        key = secrets.token_hex(16)
        harness = HARNESS % {
            "solution": code,
            "tests": task.tests,
            "setup": task.setup,
            "entry_point": task.entry_point,
        }
        result = run_python(harness, self.limits, stdin=key + "\n")
        where = f" [{result.isolation}]"
        report = _report(result.stdout, key)
        if report is None:
            why = (
                "the code ended the process before the tests could report"
                if result.exit_code == 0
                else result.reason
            )
            return Verdict(0.0, False, f"the tests did not finish: {why}{where}")
        if "(the setup code)" in report:
            return Verdict(0.0, False, f"the setup code fails: {report['(the setup code)']}")
        if "(the solution itself)" in report:
            return Verdict(0.0, False, f"the code fails to load: {report['(the solution itself)']}")
        failed = [(name, report.get(name, "did not run")) for name in expected]
        failed = [(name, why) for name, why in failed if why is not None]
        passed = len(expected) - len(failed)
        # A statement of the test file that is not a test (an import, a helper) failing.
        setup = [(name, why) for name, why in report.items() if name not in expected and why]
        if not failed and not setup:
            counted = "the 1 test passed" if passed == 1 else f"all {passed} tests passed"
            return Verdict(1.0, True, f"{counted}{where}", solves=True)
        first_name, first_why = (setup or failed)[0]
        return Verdict(
            passed / len(expected) if not setup else 0.0,
            False,
            f"{passed} of {len(expected)} tests passed; {first_name} failed: {first_why}",
        )


def _report(stdout: str, key: str) -> dict[str, str | None] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(key):
            try:
                report = json.loads(line[len(key) :])
            except ValueError:
                return None
            return report if isinstance(report, dict) else None
    return None
