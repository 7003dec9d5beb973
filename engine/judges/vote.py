"""Model vote judge: the model picks the best among siblings.

Where the backend gives probabilities (the embedded model) and there are at most
nine siblings, one call reads how likely the model is to name each one after
"The best choice is "; a node's score is its share. Otherwise (or `mode=sample`)
the model votes n times and a node's score is the share of votes it got; outputs
without a readable choice count as abstentions and are named in the rationale.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from treelight.engine.judges.base import Choices, Judge, JudgeContext, JudgeOptions, Verdict
from treelight.engine.options import Field
from treelight.engine.tasks.base import Task
from treelight.engine.types import NodeView

CHOICE = re.compile(r"best choice is\s*(?:choice\s*)?#?(\d+)|\"best\"\s*:\s*(\d+)", re.IGNORECASE)
ANSWER_START = "The best choice is "  # read the number that comes next
MAX_READ_CHOICES = 9  # one digit each: "1" is not also the start of "10"
CHOICE_SCHEMA = {
    "type": "object",
    "properties": {"best": {"type": "integer", "minimum": 1}},
    "required": ["best"],
}


def read_choice(output: str, count: int) -> int | None:
    found = CHOICE.search(output)
    if not found:
        return None
    choice = int(found.group(1) or found.group(2)) - 1
    return choice if 0 <= choice < count else None


def vote_prompt(task: Task, path: list[NodeView], choices: list[str]) -> str:
    listed = "\n".join(f"Choice {i + 1}: {c}" for i, c in enumerate(choices))
    return (
        f"{task.describe_path(path)}"
        f"Which choice is the most promising next step?\n{listed}\n"
        "Reply with a line 'The best choice is N'.\n"
    )


class VoteJudge(Judge):
    name = "vote"
    description = "Shows the model all siblings and asks which is best, n times."

    class Options(JudgeOptions):
        samples: int = Field(3, ge=1, le=20, description="how many times the model is asked")
        mode: Literal["auto", "sample"] = Field(
            "auto",
            description="auto: read how likely the model is to name each choice, in one "
            "call, where the backend gives probabilities (embedded; up to 9 choices), else "
            "sample; sample: ask `samples` times",
        )

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.samples = int(self.options["samples"])
        self.mode = str(self.options["mode"])

    def judge(self, nodes: list[NodeView], ctx: JudgeContext) -> list[Verdict]:
        if len(nodes) == 1:
            return [Verdict(1.0, None, "the only candidate: nothing to vote between")]
        anchor = ctx.tree.nodes[nodes[0].parent_id] if nodes[0].parent_id else nodes[0]
        prompt = vote_prompt(ctx.task, ctx.tree.path(anchor.id), [n.text for n in nodes])
        if self.mode == "auto" and len(nodes) <= MAX_READ_CHOICES:
            words = tuple(str(i + 1) for i in range(len(nodes)))
            read = ctx.ask_choices(anchor, prompt + ANSWER_START, "vote", words)
            if read is not None:
                return vote_shares(read, len(nodes))
        numbers = " | ".join(f'"{i + 1}"' for i in range(len(nodes)))
        answers = ctx.ask(
            anchor,
            prompt,
            self.samples,
            "vote",
            max_tokens=48,
            json_schema=CHOICE_SCHEMA,
            grammar=f'root ::= "The best choice is " ({numbers})',
        )
        choices = [read_choice(a.text, len(nodes)) for a in answers]
        abstained = choices.count(None)
        ids = [a.call_id for a in answers]
        verdicts = []
        for index, _node in enumerate(nodes):
            votes = choices.count(index)
            note = f"; {abstained} output(s) named no valid choice" if abstained else ""
            verdicts.append(
                Verdict(votes / len(answers), None, f"{votes} of {len(answers)} votes{note}", ids)
            )
        return verdicts


def vote_shares(read: Choices, count: int) -> list[Verdict]:
    """Each candidate's score is how likely the model was to name it: every candidate
    gets a verdict, where sampled votes leave most at zero."""
    shares = [read.probabilities.get(str(i + 1), 0.0) for i in range(count)]
    shown = " · ".join(f"{i + 1}: {p:.2f}" for i, p in enumerate(shares))
    share = "under 0.1%" if read.mass < 0.001 else f"{read.mass:.1%}"
    return [
        Verdict(
            round(p, 5),
            None,
            f"named as best with probability {p:.2f} (all choices: {shown}; the numbers had "
            f"{share} of the model's next-token probability)",
            [read.call_id],
        )
        for p in shares
    ]
