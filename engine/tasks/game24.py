"""Game of 24: the Tree of Thoughts benchmark.

The model proposes steps like "4 + 9 = 13 (left: 10 13 13)". The engine keeps
the books: it computes every result and the numbers left exactly, with
fractions, and ignores the model's own "left" list. A step that uses a number
that is not there, divides by zero or miscalculates is invalid, with the reason.
The expression for each number is carried along, so a finished path is an
answer that the strict checker can verify. Nothing here searches for a solution.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from fractions import Fraction
from itertools import permutations
from typing import Any, Literal

from treelight.engine.errors import BadArguments
from treelight.engine.options import Field
from treelight.engine.tasks.base import (
    WHOLE_ANSWER_MODES,
    AnswerCheck,
    Example,
    Shape,
    Task,
    TaskOptions,
    Transition,
    gbnf_literal,
    prior_lines,
)
from treelight.engine.tasks.game24_prompts import (
    IO_PROMPT,
    MOVES_PER_OUTPUT,
    MOVES_PROMPT,
    PROPOSE_PROMPT,
    SOLUTION_PROMPT,
    VALUE_PROMPT,
)
from treelight.engine.types import NodeView

RULE = "game24 rules"
ALL_MOVES_TOKENS = 8  # the token cap per move under moves=all (a move is 3-6 tokens)

NUMBER = r"-?\d+(?:\.\d+)?(?:/\d+)?"
STEP = re.compile(
    rf"^\s*(?:\d+[.)]\s+)?(?P<a>{NUMBER})\s*(?P<op>[-+*/×x÷−])\s*(?P<b>{NUMBER})\s*=\s*"
    rf"(?P<c>{NUMBER})(?:\s*\(left:\s*(?P<left>[^)]*)\))?"
)
# A move alone, as a constrained proposal writes it: the engine computes the rest.
MOVE = re.compile(rf"^\s*(?P<a>{NUMBER}) (?P<op>[-+*/]) (?P<b>{NUMBER})\s*$")
OPERATORS = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "x": "*", "/": "/", "÷": "/"}


def to_fraction(text: str) -> Fraction:
    return Fraction(text)


def show(value: Fraction) -> str:
    """13 for integers, 5/3 for the rest: exact, and readable in a prompt."""
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def calculate(a: Fraction, op: str, b: Fraction) -> Fraction:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return a / b


def parse_problem(problem: str) -> list[Fraction]:
    parts = problem.replace(",", " ").split()
    try:
        numbers = [Fraction(int(p)) for p in parts]
    except ValueError:
        raise BadArguments(
            f'A Game of 24 problem is four whole numbers, like "4 9 10 13"; got {problem!r}.'
        ) from None
    if len(numbers) != 4:
        raise BadArguments(
            f'A Game of 24 problem is four whole numbers, like "4 9 10 13"; got {len(numbers)}.'
        )
    return numbers


def check_expression(expression: str, numbers: list[Fraction]) -> AnswerCheck:
    """Strict: the expression uses exactly `numbers`, each once, and equals 24."""
    expression = expression.strip().split("=")[0].replace("×", "*").replace("÷", "/")
    expression = expression.replace("−", "-")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return AnswerCheck(False, f"not an arithmetic expression: {expression!r}")
    used: list[Fraction] = []

    def evaluate(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return evaluate(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            value = Fraction(str(node.value))
            used.append(value)
            return value
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return calculate(evaluate(node.left), OPS[type(node.op)], evaluate(node.right))
        raise ValueError(f"only numbers, + - * / and parentheses are allowed: {expression!r}")

    try:
        value = evaluate(tree)
    except ZeroDivisionError:
        return AnswerCheck(False, f"divides by zero: {expression}")
    except ValueError as error:
        return AnswerCheck(False, str(error))
    if Counter(used) != Counter(numbers):
        wanted = " ".join(show(n) for n in numbers)
        got = " ".join(show(n) for n in used)
        return AnswerCheck(False, f"uses {got}, but must use exactly {wanted}")
    if value != 24:
        return AnswerCheck(False, f"{expression} = {show(value)}, not 24")
    return AnswerCheck(True, f"{expression} = 24, using each of the numbers once")


OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

# The ways to bracket four numbers a b c d (o: an operator), plus the flat form the
# few-shot examples also use ("5 + 5 + 5 + 9"): every binary tree over four leaves.
EXPRESSION_SHAPES = (
    "a o b o c o d",
    "( ( a o b ) o c ) o d",
    "( a o ( b o c ) ) o d",
    "( a o b ) o ( c o d )",
    "a o ( ( b o c ) o d )",
    "a o ( b o ( c o d ) )",
)


def answer_grammar(numbers: list[Fraction], *, steps: bool) -> str:
    """GBNF for a whole answer: optional step lines ("a op b = c (left: ...)", their
    numbers free, unchecked: only the answer counts), then "Answer: " and an
    expression that uses each of the puzzle's numbers exactly once, in any order and
    any bracketing, with any of the four operators.

    It fixes the form only: every order × bracketing × operator is allowed, whether
    or not it makes 24 (for 4 9 10 13, 24 orders × 6 shapes × 4³ operator choices)."""
    orders = sorted(set(permutations(show(n) for n in numbers)))
    alternatives = []
    for order in orders:
        for written in EXPRESSION_SHAPES:
            leaves = iter(order)
            parts = []
            for symbol in written.split():
                if symbol in "abcd":
                    parts.append(gbnf_literal(next(leaves)))
                elif symbol == "o":
                    parts.append("op")
                else:
                    parts.append(gbnf_literal(symbol))
            alternatives.append(" ".join(parts))
    rules = [
        'root ::= step{0,3} "Answer: " expr' if steps else 'root ::= "Answer: " expr',
        "expr ::= " + " | ".join(alternatives),
        'op ::= " + " | " - " | " * " | " / "',
    ]
    if steps:
        rules += [
            'step ::= num op num " = " num " (left: " num (" " num){0,2} ")\\n"',
            "num ::= digit{1,3}",
            "digit ::= " + " | ".join(f'"{d}"' for d in range(10)),
        ]
    return "\n".join(rules)


class Game24(Task):
    name = "game24"
    # Valid steps from some states "4 4 4 4" leads to, wrong ones (bad arithmetic,
    # numbers that are not there), answers, noise; and verdict words for judges.
    example = Example(
        problem="4 4 4 4",
        judges="game24-verifier,value",
        outputs=(
            "4 + 4 = 8 (left: 4 4 8)",
            "4 * 4 = 16 (left: 4 4 16)",
            "4 - 4 = 0 (left: 0 4 4)",
            "4 / 4 = 1 (left: 1 4 4)",
            "4 + 8 = 12 (left: 4 12)",
            "4 * 4 = 16 (left: 8 16)",
            "16 + 8 = 24 (left: 24)",
            "8 * 4 = 32 (left: 4 32)",
            "4 + 16 = 20 (left: 4 20)",
            "20 + 4 = 24 (left: 24)",
            "12 * 4 = 48 (left: 48)",
            "1 + 4 = 5 (left: 4 5)",
            "4 + 9 = 14 (left: 14)",
            "12 + 12 = 24",
            "Answer: (4 + 4) * 4 - 8",
            "Answer: 4 * 4 + 4 + 4",
            "Answer: (4 * 4) + (4 + 4) = 24",
            "garbage <b>text</b>",
        ),
        verdicts=(
            "sure",
            "likely",
            "impossible",
            "no idea",
            "The best choice is 2",
            "The best choice is 1",
        ),
        lines_per_output=6,
    )
    description = "Combine four numbers with + - * / to make 24 (the Tree of Thoughts benchmark)."
    default_judges = ("game24-verifier", "value")
    default_depth = 4
    step_max_tokens = 96
    solution_max_tokens = 160

    class Options(TaskOptions):
        prompt: Literal["cot", "io"] = Field(
            "cot",
            description="whole answers (best-of-n, voting): cot = steps then the answer; "
            "io = the answer alone",
        )
        moves: Literal["distinct", "lines", "all"] = Field(
            "distinct",
            description="constrained steps: distinct = 8 different moves per state, each "
            "drawn from the moves not yet written (sampling without replacement); lines = "
            "up to 8 lines as the model writes them, repeats merged afterwards; all = every "
            "move there is, once each, in the order drawn (self-play whose trees can show "
            "a state dead, for `treelight train judge`)",
        )

    def __init__(self, problem: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(problem, params)
        self.numbers = parse_problem(self.problem)
        self.problem = " ".join(show(n) for n in self.numbers)

    def initial_state(self) -> dict[str, Any]:
        return {"left": [show(n) for n in self.numbers], "exprs": [show(n) for n in self.numbers]}

    def propose_prompt(self, path: list[NodeView], priors: list[str]) -> str:
        numbers = " ".join(path[-1].state["left"])
        return PROPOSE_PROMPT.format(numbers=numbers, priors=prior_lines(priors))

    def shape(self, mode: str, path: list[NodeView], priors: list[str]) -> Shape | None:
        """A step is a move "a op b" over two of the numbers left, one per line: the
        grammar lists the ordered pairs of the numbers there are (so a move never
        uses a number that is not there) and the four operators. A whole answer is
        "Answer: <expression>" over the four numbers, each used once, after
        up to three step lines when the prompt asks for steps (answer_grammar)."""
        if mode in WHOLE_ANSWER_MODES:
            return Shape(grammar=answer_grammar(self.numbers, steps=self.params["prompt"] != "io"))
        left = path[-1].state.get("left", [])
        if mode != "step" or len(left) < 2:
            return None
        pairs = sorted({(a, b) for i, a in enumerate(left) for j, b in enumerate(left) if i != j})
        move = "move ::= " + " | ".join(f"{gbnf_literal(a)} op {gbnf_literal(b)}" for a, b in pairs)
        op = 'op ::= " + " | " - " | " * " | " / "'
        prompt = MOVES_PROMPT.format(numbers=" ".join(left), priors=prior_lines(priors))
        if self.params["moves"] in ("distinct", "all"):  # all: as many lines as moves
            count = len(pairs) * 4 if self.params["moves"] == "all" else MOVES_PER_OUTPUT
            return Shape(
                grammar="\n".join(["root ::= move", move, op]),
                prompt=prompt,
                max_tokens=max(self.step_tokens, ALL_MOVES_TOKENS * count),
                distinct_lines=count,
            )
        lines = f'root ::= move ("\\n" move){{0,{MOVES_PER_OUTPUT - 1}}}'
        return Shape(
            grammar="\n".join([lines, move, op]), prompt=prompt, max_tokens=self.step_tokens
        )

    def solution_prompt(self, priors: list[str]) -> str:
        template = IO_PROMPT if self.params.get("prompt") == "io" else SOLUTION_PROMPT
        return template.format(numbers=self.problem, priors=prior_lines(priors))

    def parse_candidates(self, output: str, mode: str) -> list[str]:
        if mode == "solution":
            return [output.strip()] if output.strip() else []
        lines = []
        for line in output.splitlines():
            if line.strip().lower().startswith(("input:", "possible next steps")):
                break  # the model started a new few-shot example: the rest is not ours
            if line.strip():
                lines.append(line.strip())
        return lines

    def apply(self, state: dict[str, Any], thought: str, mode: str) -> Transition:
        if mode == "solution":
            return self._apply_solution(thought)
        return self._apply_step(state, thought)

    def _apply_step(self, state: dict[str, Any], thought: str) -> Transition:
        match = STEP.match(thought) or MOVE.match(thought)
        if not match:
            return Transition(invalid=f"{RULE}: not a step of the form 'a + b = c (left: ...)'")
        a, b = to_fraction(match["a"]), to_fraction(match["b"])
        claimed = to_fraction(match["c"]) if "c" in match.groupdict() else None
        op = OPERATORS[match["op"]]
        left = [to_fraction(x) for x in state["left"]]
        exprs = list(state["exprs"])
        available = " ".join(state["left"])
        for operand in (a, b):
            if operand not in left:
                return Transition(invalid=f"{RULE}: {show(operand)} is not among {available}")
            index = left.index(operand)
            left.pop(index)
            if operand is a:
                expr_a = exprs.pop(index)
            else:
                expr_b = exprs.pop(index)
        try:
            result = calculate(a, op, b)
        except ZeroDivisionError:
            return Transition(invalid=f"{RULE}: {show(a)} / 0 divides by zero")
        if claimed is not None and result != claimed:
            return Transition(
                invalid=f"{RULE}: miscalculation, {show(a)} {op} {show(b)} = {show(result)}, "
                f"not {show(claimed)}"
            )
        left.append(result)
        exprs.append(f"({expr_a} {op} {expr_b})" if left[:-1] else f"{expr_a} {op} {expr_b}")
        new_state: dict[str, Any] = {"left": [show(n) for n in left], "exprs": exprs}
        written = None
        if claimed is None:  # a move alone: the engine writes the result and what is left
            written = (
                f"{show(a)} {op} {show(b)} = {show(result)} (left: {' '.join(new_state['left'])})"
            )
        elif match["left"] is not None:
            new_state["model_left"] = match["left"].strip()
        if len(left) == 1:
            return Transition(state=new_state, terminal=True, answer=exprs[0], text=written)
        return Transition(state=new_state, text=written)

    def _apply_solution(self, thought: str) -> Transition:
        found = re.search(r"answer\s*:\s*(.+)", thought, flags=re.IGNORECASE)
        if not found:
            return Transition(invalid=f"{RULE}: no 'Answer:' line in the solution")
        answer = found.group(1).strip().splitlines()[0].split("=")[0].strip()
        return Transition(state={"answer": answer}, terminal=True, answer=answer)

    def value_prompt(self, path: list[NodeView]) -> str | None:
        """Tree of Thoughts' own few-shot value prompt over the numbers left (the
        `value` judge asks it of tasks that have one: judges/value.py)."""
        state = path[-1].state
        if "left" not in state or len(state["left"]) <= 1:
            return None  # finished paths are for the verifier, not for a guess
        return VALUE_PROMPT.format(numbers=" ".join(state["left"]))

    def check_answer(self, answer: str) -> AnswerCheck | None:
        return check_expression(answer, self.numbers)

    @classmethod
    def describe_state(cls, state: dict[str, Any]) -> str | None:
        if "left" in state:  # computed by the engine, whatever the model wrote
            return "left: " + " ".join(str(n) for n in state["left"])
        return None

    shared_states = True  # the numbers left are the situation, whatever the puzzle

    def next_state_keys(self, state: dict[str, Any]) -> set[str] | None:
        """Every "a op b" over two of the numbers left, as the step grammar lists them
        (division by zero left out: the rules reject it), by the numbers it leaves."""
        if "left" not in state:
            return None
        left = [to_fraction(x) for x in state["left"]]
        keys = set()
        for i, a in enumerate(left):
            for j, b in enumerate(left):
                if i == j:
                    continue
                rest = [x for k, x in enumerate(left) if k not in (i, j)]
                for op in "+-*/":
                    if op == "/" and b == 0:
                        continue
                    keys.add(
                        self.state_key({"left": [show(x) for x in (*rest, calculate(a, op, b))]})
                    )
        return keys

    def state_features(self, state: dict[str, Any]) -> list[float] | None:
        """How many numbers are left, then those numbers smallest first (0 where fewer
        than four are left)."""
        if "left" not in state:
            return None
        numbers = sorted(float(to_fraction(x)) for x in state["left"])
        return [float(len(numbers)), *numbers, *[0.0] * (4 - len(numbers))]

    def state_key(self, state: dict[str, Any]) -> str:
        if "left" in state:
            return " ".join(sorted(state["left"], key=lambda s: Fraction(s)))
        return str(state.get("answer", ""))
