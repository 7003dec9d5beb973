"""Model value judge, as in Tree of Thoughts: "sure / likely / impossible".

Where the backend can say how likely each word is to come next (the embedded
model), one short call reads those probabilities and the score is their
expected value: every node gets a verdict. Otherwise (or with `mode=sample`) the
model is asked n times, each sample's word is mapped to a score and the scores
are averaged; a sample with no verdict word counts 0. The map
keeps Tree of Thoughts' ratios (sure 20, likely 1, impossible 0.001), scaled to
[0, 1], so ranking nodes by it ranks them the way the reference does. A node in
the same state as one already valued reuses that verdict, like the reference's
value cache, and says so.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Protocol, runtime_checkable

from treelight.engine.judges.base import Choices, Judge, JudgeContext, JudgeOptions, Verdict
from treelight.engine.options import Field
from treelight.engine.tasks.base import Task
from treelight.engine.types import NodeView

WORD_SCORES = {"sure": 1.0, "likely": 0.05, "impossible": 0.00005}
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"enum": ["sure", "likely", "impossible"]}},
    "required": ["verdict"],
}
# Under `constrain=auto` the model answers with exactly one verdict word.
VERDICT_GRAMMAR = 'root ::= "sure" | "likely" | "impossible"'
WORD = re.compile(r"\b(sure|likely|impossible)\b", re.IGNORECASE)


def read_word(output: str) -> str | None:
    """The first verdict word the model wrote (later ones tend to be a new example)."""
    found = WORD.search(output)
    return found.group(1).lower() if found else None


@runtime_checkable
class ValuePrompting(Protocol):
    """A task with a value prompt of its own (Game of 24: Tree of Thoughts' few-shot
    prompt over the numbers left). None: nothing to value at this node."""

    def value_prompt(self, path: list[NodeView]) -> str | None: ...


def value_prompt(task: Task, path: list[NodeView]) -> str | None:
    if isinstance(task, ValuePrompting):
        return task.value_prompt(path)
    what = "answer" if "answer" in path[-1].state else "reasoning"
    return (
        f"{task.describe_path(path)}"
        f"Is this {what} correct and on track to the right answer? "
        "Reply with one word: sure, likely or impossible.\n"
    )


class ValueJudge(Judge):
    name = "value"
    description = "Asks the model n times whether the state can still succeed (ToT value)."

    class Options(JudgeOptions):
        samples: int = Field(3, ge=1, le=20, description="how many times the model is asked")
        mode: Literal["auto", "sample"] = Field(
            "auto",
            description="auto: read the probabilities of the three words in one call where "
            "the backend gives them (embedded), else sample; sample: ask `samples` times",
        )

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.samples = int(self.options["samples"])
        self.mode = str(self.options["mode"])

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        return [self._value(node, ctx) for node in nodes]

    def _value(self, node: NodeView, ctx: JudgeContext) -> Verdict:
        earlier = ctx.earlier_verdict(self, node)
        if earlier is not None:
            verdict, other_id = earlier
            return Verdict(
                verdict.score, None, f"same state as node #{other_id}: {verdict.rationale}"
            )
        prompt = value_prompt(ctx.task, ctx.tree.path(node.id))
        if prompt is None:
            return Verdict(None, None, "nothing to value: a finished path is for the verifiers")
        if self.mode == "auto":
            choices = ctx.ask_choices(node, prompt, "value", tuple(WORD_SCORES))
            if choices is not None:
                return expected_value(choices)
        answers = ctx.ask(
            node,
            prompt,
            self.samples,
            "value",
            max_tokens=48,
            json_schema=VERDICT_SCHEMA,
            grammar=VERDICT_GRAMMAR,
        )
        words = [read_word(a.text) for a in answers]
        score = sum(WORD_SCORES.get(w or "", 0.0) for w in words) / max(1, len(words))
        shown = ", ".join(w or "(no verdict word)" for w in words)
        return Verdict(
            round(score, 5),
            None,
            f"{len(words)} samples: {shown} → {score:.3f}",
            [a.call_id for a in answers],
        )


def expected_value(choices: Choices) -> Verdict:
    """The verdict words' scores weighted by how likely the model was to say each:
    a verdict every time, where sampling a tiny model often gets no word at all."""
    p = choices.probabilities
    score = sum(WORD_SCORES[w] * p.get(w, 0.0) for w in WORD_SCORES)
    shown = " · ".join(f"{w} {p.get(w, 0.0):.2f}" for w in WORD_SCORES)
    share = "under 0.1%" if choices.mass < 0.001 else f"{choices.mass:.1%}"
    return Verdict(
        round(score, 5),
        None,
        f"{shown} → {score:.3f} (the three words had {share} of the model's next-token "
        "probability; these are their shares among themselves)",
        [choices.call_id],
    )
