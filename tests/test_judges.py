"""Judges: reading model verdicts, settling a node, and the judge spec language."""

from __future__ import annotations

import pytest

from treelight.engine.errors import BadArguments
from treelight.engine.judges import make_judges, parse_judge_specs, settle
from treelight.engine.judges.base import Verdict
from treelight.engine.judges.value import read_word
from treelight.engine.judges.vote import read_choice


@pytest.mark.parametrize(
    ("output", "word"),
    [
        ("10 + 14 = 24\nsure\n5 5\nimpossible", "sure"),
        ("Likely.", "likely"),
        ("I am unsure", None),
        ("", None),
        ("IMPOSSIBLE", "impossible"),
    ],
)
def test_value_word_is_the_first_verdict_word(output: str, word: str | None) -> None:
    assert read_word(output) == word


def test_vote_choice_must_name_a_real_sibling() -> None:
    assert read_choice("The best choice is 2", 3) == 1
    assert read_choice("the best choice is choice #3.", 3) == 2
    assert read_choice("The best choice is 7", 3) is None
    assert read_choice("no idea", 3) is None


def test_a_failing_gate_rejects_and_names_the_judge() -> None:
    judges = make_judges(parse_judge_specs("game24-verifier,value"))
    verdicts = [Verdict(0.0, False, "8 is not among 2 7 11"), Verdict(1.0, None, "sure")]
    settled = settle(judges, verdicts)
    assert settled.rejected_by == "rejected by game24-verifier: 8 is not among 2 7 11"


def test_weights_average_and_gates_only_gate() -> None:
    judges = make_judges(parse_judge_specs("game24-verifier,value:weight=3,vote"))
    verdicts = [Verdict(None, True, "ok"), Verdict(1.0, None, ""), Verdict(0.0, None, "")]
    assert settle(judges, verdicts).score == pytest.approx(0.75)
    assert settle(judges[:1], verdicts[:1]).score == 1.0


def test_judge_specs() -> None:
    specs = parse_judge_specs("game24-verifier, value:samples=5;weight=2, vote:role=gate")
    assert specs == [
        {"name": "game24-verifier"},
        {"name": "value", "samples": 5, "weight": 2},
        {"name": "vote", "role": "gate"},
    ]
    with pytest.raises(BadArguments, match="Unknown judge"):
        make_judges([{"name": "oracle"}])
    with pytest.raises(BadArguments, match="judge 'value' has no option 'colour'"):
        make_judges([{"name": "value", "colour": "red"}])
