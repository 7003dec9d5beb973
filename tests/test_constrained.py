"""Constrained candidates and the chance baseline.

The grammar a task declares makes the model's output well formed and nothing
more: every legal move stays possible (chance, sampling the same grammar,
writes each of them), and none is favoured for leading to 24.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import node_view
from tests.invariants import check_tree_invariants
from treelight.engine.errors import ModelError
from treelight.engine.generators.base import CompletionRequest, repeated_lines_grammar
from treelight.engine.generators.chance import (
    ChanceGenerator,
    language,
    parse_grammar,
    remaining_lines_grammar,
    sample,
)
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.tasks.game24 import Game24, check_expression, parse_problem
from treelight.engine.types import NodeView
from treelight.storage import queries


def solves_24(puzzle: str, answer: str) -> bool:
    """The strict checker, independent of the run: the four numbers, each once, = 24."""
    return check_expression(answer, parse_problem(puzzle)).passed


def root(task: Game24) -> NodeView:
    return node_view(
        key="0", parent_id=None, depth=0, text=task.problem, state=task.initial_state()
    )


def test_chance_writes_every_legal_move_and_nothing_else() -> None:
    task = Game24("4 9 10 13", {"moves": "lines"})
    shape = task.shape("step", [root(task)], [])
    assert shape is not None
    rules = parse_grammar(shape.grammar)
    rng = random.Random(0)
    moves: Counter[str] = Counter()
    for _ in range(3000):
        output = sample(rules, rng)
        lines = task.parse_candidates(output, "step")
        assert 1 <= len(lines) <= 8
        for line in lines:
            transition = task.apply(task.initial_state(), line, "step")
            assert transition.invalid is None, (line, transition.invalid)
            moves[line] += 1
    numbers = task.initial_state()["left"]
    legal = {f"{a} {op} {b}" for a, b in itertools.permutations(numbers, 2) for op in "+-*/"}
    assert set(moves) == legal  # all 48 ordered moves, and nothing else
    # Uniform: no move is drawn more than twice as often as another.
    assert max(moves.values()) < 2 * min(moves.values())


def test_a_constrained_step_is_written_out_by_the_engine() -> None:
    task = Game24("4 9 10 13")
    moved = task.apply(task.initial_state(), "13 - 9", "step")
    assert moved.invalid is None
    assert moved.text == "13 - 9 = 4 (left: 4 10 4)"
    assert [Fraction(x) for x in moved.state["left"]] == [4, 10, 4]
    # The free form still works, and its arithmetic is still checked.
    wrong = task.apply(task.initial_state(), "13 - 9 = 5 (left: 4 10 5)", "step")
    assert wrong.invalid == "game24 rules: miscalculation, 13 - 9 = 4, not 5"


def test_the_grammar_only_lists_numbers_that_are_left() -> None:
    task = Game24("4 4 6 8")
    state = task.apply(task.initial_state(), "4 + 4", "step").state  # left: 6 8 8
    path = [root(task), root(task)]
    path[-1] = NodeView(**{**path[-1].__dict__, "state": state})
    shape = task.shape("step", path, [])
    assert shape is not None and '"4"' not in shape.grammar
    assert shape.prompt is not None and shape.prompt.rstrip().endswith("Possible next steps:")


@pytest.mark.parametrize("prompt", ["cot", "io"])
def test_chance_writes_whole_answers_over_the_four_numbers_each_once(prompt: str) -> None:
    """A whole answer's grammar fixes its form (the numbers each used once, any order,
    bracketing and operators), not its value: chance still almost never makes 24."""
    task = Game24("4 9 10 13", {"prompt": prompt})
    shape = task.shape("solution", [root(task)], [])
    assert shape is not None and shape.prompt is None  # the usual prompt, feedback and all
    rules = parse_grammar(shape.grammar)
    rng = random.Random(0)
    values: Counter[str] = Counter()
    shapes = set()
    for _ in range(3000):
        output = sample(rules, rng)
        assert (output.count("\n") > 0) == (prompt == "cot" and not output.startswith("Answer"))
        transition = task.apply(task.initial_state(), output, "solution")
        assert transition.answer is not None
        check = task.check_answer(transition.answer)
        assert check is not None
        wrong_value = check.reason.endswith("not 24") or check.reason.startswith("divides by")
        assert check.passed or wrong_value, check.reason  # never a number missing or extra
        values["24" if check.passed else "other"] += 1
        shapes.add(re.sub(r"\d+", "n", re.sub(r" [-+*/] ", "o", transition.answer)))
    assert len(shapes) == 6  # every bracketing, the flat one included
    assert values["24"] < 0.01 * sum(values.values())  # 4 9 10 13 is a hard one


def chance_run(
    engine: Engine,
    judges: str = "game24-verifier",
    constrain: str = "auto",
    strategy: str = "bfs",
    task: str = "game24",
    problem: str = "4 9 10 13",
) -> int:
    from treelight.engine.judges import parse_judge_specs

    run = create_run(
        engine,
        task=task,
        problem=problem,
        strategy=strategy,
        strategy_params={"beam": 5} if strategy == "bfs" else {},
        generator={"backend": "random", "constrain": constrain},
        judges=parse_judge_specs(judges),
        budget={"max_calls": 30},
        status="running",
    )
    assert run.id is not None
    return run.id


def test_a_chance_run_makes_no_invalid_node_and_records_its_grammar(engine: Engine) -> None:
    run_id = chance_run(engine)
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None and outcome.run.status in ("done", "stopped")
    check_tree_invariants(engine, run_id)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        calls = queries.run_model_calls(session, run_id)
    assert len(nodes) > 10
    assert [n for n in nodes if n.status == "invalid"] == []
    assert calls and all("root ::=" in (c.params.get("grammar") or "") for c in calls)
    assert outcome.run.prompt_tokens == 0  # nothing read the prompts


def test_chance_judges_by_chance_where_a_judge_has_a_grammar(engine: Engine) -> None:
    """The value judge's verdict grammar lets chance answer it too: random words,
    never an empty verdict (a baseline for the judges as well as the proposals)."""
    run_id = chance_run(engine, judges="game24-verifier,value:samples=2")
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None
    with Session(engine) as session:
        verdicts = [e for e in queries.run_evaluations(session, run_id) if e.judge == "value"]
    assert verdicts and all("no verdict word" not in e.rationale for e in verdicts)


def test_chance_cannot_write_what_has_no_grammar_and_says_what_to_do(engine: Engine) -> None:
    run_id = chance_run(  # an open question's answers have no grammar
        engine,
        judges="value",
        strategy="best-of-n",
        task="question",
        problem="Why is the sky blue?",
    )
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.run.status == "paused"
    assert "it can only write what a task's grammar allows" in outcome.run.status_reason
    with pytest.raises(ModelError, match="--constrain auto"):
        Runner(engine, chance_run(engine, constrain="off")).generator  # noqa: B018


def embedded_run(engine: Engine, constrain: str, judges: str = "game24-verifier") -> int:
    from treelight.engine.judges import parse_judge_specs

    run = create_run(
        engine,
        task="game24",
        problem="4 9 10 13",
        strategy="bfs",
        strategy_params={"beam": 3},
        generator={"backend": "embedded", "constrain": constrain},
        judges=parse_judge_specs(judges),
        budget={"max_calls": 6 if judges == "game24-verifier" else 14},
        status="running",
    )
    assert run.id is not None
    return run.id


def finished_embedded_run(engine: Engine, **settings: Any) -> int:
    """A Game of 24 run on the embedded model, judged by the verifier, run until it
    rests (with no error)."""
    from treelight.engine.judges import parse_judge_specs

    run = create_run(
        engine,
        task="game24",
        generator={"backend": "embedded"},
        judges=parse_judge_specs("game24-verifier"),
        status="running",
        **settings,
    )
    assert run.id is not None
    outcome = Runner(engine, run.id).run_until_idle()
    assert outcome.error is None, outcome.error
    return run.id


@pytest.mark.model
def test_the_embedded_model_writes_only_well_formed_steps_under_the_grammar(
    engine: Engine,
) -> None:
    run_id = embedded_run(engine, "auto")
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None, outcome.error
    check_tree_invariants(engine, run_id)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)[1:]
        calls = queries.run_model_calls(session, run_id)
    # Steps under the grammar; value verdicts read from the verdict words' probabilities.
    assert len(nodes) >= 6 and all("grammar" in c.params or "choices" in c.params for c in calls)
    malformed = [
        (n.text, n.status_reason)
        for n in nodes
        if n.status == "invalid" and "divides by zero" not in n.status_reason
    ]
    assert malformed == []  # no bad format, no number that is not there
    assert all(" = " in n.text and "(left: " in n.text for n in nodes)  # the engine wrote it


@pytest.mark.model
def test_constrain_off_lets_the_model_write_freely_as_before(engine: Engine) -> None:
    run_id = embedded_run(engine, "off")
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
    assert calls and not any("grammar" in c.params for c in calls)
    assert "8 / 2 = 4 (left: 4 8 14)" in calls[0].prompt  # the free few-shot prompt


@pytest.mark.model
def test_the_value_judge_reads_the_verdict_words_probabilities_and_always_answers(
    engine: Engine,
) -> None:
    run_id = embedded_run(engine, "auto", judges="game24-verifier,value")
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        values = [e for e in queries.run_evaluations(session, run_id) if e.judge == "value"]
        calls = {c.id: c for c in queries.run_model_calls(session, run_id)}
    asked = [v for v in values if not v.rationale.startswith(("same state", "nothing to value"))]
    assert asked and all(v.score is not None for v in values)  # no empty verdict
    for verdict in asked:
        [call_id] = verdict.model_call_ids
        call = calls[call_id]
        shares = call.extra["choices"]
        assert set(shares) == {"sure", "likely", "impossible"}
        assert sum(shares.values()) == pytest.approx(1.0, abs=0.001)
        # The output is the greedy next token; what was read is kept beside it.
        assert call.completion_tokens == 1 and call.logprobs
        assert call.output == call.logprobs[0]["token"] == call.logprobs[0]["top"][0]["token"]
        expected = shares["sure"] + 0.05 * shares["likely"] + 0.00005 * shares["impossible"]
        assert verdict.score == pytest.approx(expected, abs=0.001)
        assert verdict.rationale.startswith(f"sure {shares['sure']:.2f} · likely")


@pytest.mark.model
def test_the_vote_judge_reads_how_likely_each_sibling_is_named(engine: Engine) -> None:
    run_id = embedded_run(engine, "auto", judges="game24-verifier,vote")
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        votes = [e for e in queries.run_evaluations(session, run_id) if e.judge == "vote"]
        calls = {c.id: c for c in queries.run_model_calls(session, run_id)}
    read = [v for v in votes if v.model_call_ids]
    assert read and all(v.score is not None for v in votes)
    by_call: dict[int, list[float]] = {}
    for verdict in read:
        by_call.setdefault(verdict.model_call_ids[0], []).append(verdict.score or 0.0)
    for call_id, scores in by_call.items():
        call = calls[call_id]
        assert call.prompt.endswith("The best choice is ") and call.completion_tokens == 1
        assert sum(scores) == pytest.approx(1.0, abs=0.002)  # the siblings share one vote
        assert len(scores) == len(call.extra["choices"])


@pytest.mark.model
def test_the_embedded_model_writes_whole_answers_over_the_four_numbers(engine: Engine) -> None:
    """Self-consistency under the answer grammar: every sample is "Answer: <expression>"
    over 4 9 10 13, each number once; the verifier then rejects it only for its value."""

    run_id = finished_embedded_run(
        engine, problem="4 9 10 13", strategy="self-consistency", strategy_params={"n": 3}
    )
    with Session(engine) as session:
        answers = queries.run_nodes(session, run_id)[1:]
        verdicts = queries.run_evaluations(session, run_id)
        calls = queries.run_model_calls(session, run_id)
    assert len(calls) == 3 and all('"Answer: " expr' in c.params["grammar"] for c in calls)
    assert answers and all("Answer: " in n.text for n in answers)
    reasons = [e.rationale for e in verdicts if e.judge == "game24-verifier"]
    assert reasons and all(
        r.endswith(("not 24", "using each of the numbers once")) or r.startswith("divides by")
        for r in reasons
    ), reasons


def test_distinct_moves_are_drawn_without_replacement_from_what_is_left() -> None:
    """moves=distinct: each line is drawn from the legal moves not yet written, so
    one output holds up to 8 different moves; chance follows the same rule."""
    task = Game24("4 9 10 13", {"moves": "distinct"})
    shape = task.shape("step", [root(task)], [])
    assert shape is not None and shape.distinct_lines == 8
    legal = language(parse_grammar(shape.grammar))
    assert legal is not None and len(legal) == 48  # one move per line: the 48 legal ones
    left = remaining_lines_grammar(shape.grammar, ["4 + 9", "13 - 10"])
    assert left is not None and set(language(parse_grammar(left)) or []) == set(legal) - {
        "4 + 9",
        "13 - 10",
    }
    assert remaining_lines_grammar(shape.grammar, legal) is None  # nothing left to write
    chance = ChanceGenerator()
    seen: Counter[str] = Counter()
    for seed in range(200):
        [done] = chance.complete(
            [CompletionRequest(prompt="", seed=seed, grammar=shape.grammar, distinct_lines=8)]
        )
        lines = done.text.split("\n")
        assert len(lines) == 8 == len(set(lines)) and set(lines) <= set(legal)
        assert done.completion_tokens == sum(len(line.split()) for line in lines)
        seen.update(lines)
    assert set(seen) == set(legal)  # every legal move still possible


def test_a_backend_that_cannot_draw_distinct_lines_gets_the_lines_grammar() -> None:
    task = Game24("4 9 10 13", {"moves": "distinct"})
    shape = task.shape("step", [root(task)], [])
    assert shape is not None
    rules = parse_grammar(repeated_lines_grammar(shape.grammar, 8))
    outputs = [sample(rules, random.Random(seed)).split("\n") for seed in range(300)]
    assert max(len(lines) for lines in outputs) == 8 and min(len(lines) for lines in outputs) == 1
    assert any(len(set(lines)) < len(lines) for lines in outputs)  # repeats are possible
    assert all(task.apply(task.initial_state(), m, "step").invalid is None for m in outputs[0])


@pytest.mark.model
def test_the_embedded_model_writes_distinct_moves_a_line_at_a_time(engine: Engine) -> None:
    """moves=distinct on the real model: one call per expansion, its lines all
    different legal moves, the prompt counted once, every token's probability kept
    (the line breaks are the engine's, marked so), each candidate's log-probability
    the sum over its own tokens."""

    run_id = finished_embedded_run(
        engine,
        problem="1 1 4 6",
        task_params={"moves": "distinct"},
        strategy="bfs",
        strategy_params={"beam": 2, "steps": 2},
    )
    check_tree_invariants(engine, run_id)
    with Session(engine) as session:
        calls = queries.run_model_calls(session, run_id)
        nodes = queries.run_nodes(session, run_id)[1:]
    assert len(calls) == 3  # the problem, then the two kept
    for call in calls:
        lines = call.output.split("\n")
        assert len(lines) == len(set(lines)) >= 4, lines
        assert call.params["distinct_lines"] == 8 and call.params["grammar"].startswith("root ::=")
        assert "".join(t["token"] for t in call.logprobs) == call.output
        breaks = [t for t in call.logprobs if t.get("by") == "engine"]
        assert len(breaks) == len(lines) - 1 and all(t["token"] == "\n" for t in breaks)
        assert call.prompt_tokens < 400  # the prompt once, not once per line
    assert nodes and all(n.status != "invalid" for n in nodes)
    assert all(n.logprob is not None and n.logprob <= 0 for n in nodes if n.origin == "model")


def test_math_answers_end_with_a_number_and_chance_guesses_numbers(
    engine: Engine,
) -> None:
    """Math under its grammar: a step is one line or "Answer: N" (the last step the
    answer only), a whole answer up to six lines of working and "Answer: N" — always
    a number to check. Chance in that shell writes well-formed guesses the checker
    rejects."""
    from treelight.engine.tasks.math_word import MathWordProblem

    task = MathWordProblem("Anna has 12 pencils and gets 5 more. How many?", {"answer": "17"})
    start = node_view(id=1, key="0", parent_id=None, depth=0, text=task.problem)
    step = task.shape("step", [start], [])
    last = task.shape("step", [start] * 4, [])
    whole = task.shape("solution", [start], [])
    assert step is not None and last is not None and whole is not None
    rng = random.Random(0)
    for _ in range(300):
        written = sample(parse_grammar(step.grammar), rng)
        assert written and "\n" not in written
        assert re.fullmatch(r"Answer: -?\d+(\.\d+)?", sample(parse_grammar(last.grammar), rng))
        lines = sample(parse_grammar(whole.grammar), rng).split("\n")
        assert len(lines) <= 7 and re.fullmatch(r"Answer: -?\d+(\.\d+)?", lines[-1])
        assert task.apply({}, "\n".join(lines), "solution").answer is not None
    run_id = chance_run(
        engine,
        judges="calculator",
        task="math",
        problem="Anna has 12 pencils and gets 5 more. How many?",
    )
    outcome = Runner(engine, run_id).run_until_idle()
    assert outcome.error is None and outcome.run.prompt_tokens == 0
    check_tree_invariants(engine, run_id)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)[1:]
    assert nodes and [n for n in nodes if n.status == "invalid"] == []


def test_code_answers_are_one_fenced_block_that_llama_cpp_can_apply() -> None:
    """The code task's shape: one ```python block opening with a definition or an
    import, nothing around it; llama.cpp compiles it, and chance (which reads
    character classes too) writes blocks the task reads as code — nonsense code,
    which the tests would reject."""
    from treelight.engine.generators.embedded import compiled_grammar
    from treelight.engine.tasks.code import CodeTask, extract_code

    task = CodeTask("Write add(a, b).", {"tests": "assert add(1, 2) == 3"})
    start = node_view(id=1, key="0", parent_id=None, depth=0, text=task.problem)
    shape = task.shape("solution", [start], [])
    assert shape is not None and task.shape("step", [start], []) == shape
    assert compiled_grammar(shape.grammar) is not None
    rng = random.Random(0)
    for _ in range(200):
        written = sample(parse_grammar(shape.grammar), rng)
        assert written.startswith("```python\n") and written.endswith("```")
        assert written.count("`") == 6  # one block, nothing after it
        code = extract_code(written)
        assert code is not None and code.startswith(("def ", "import ", "from ", "class "))
