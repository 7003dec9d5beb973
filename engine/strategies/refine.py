"""Self-refine: answer, critique, revise, until the judges pass or the rounds run out.

The tree is a chain: answer → critique → revised answer → critique → … Every
answer is judged. A critique is a node of its own: written from the verifiers'
feedback when a checker rejected the answer (no model call: the failing test or
the wrong arithmetic says it best), otherwise asked of the model.
"""

from __future__ import annotations

from treelight.engine.options import Field
from treelight.engine.strategies.base import (
    Strategy,
    StrategyOptions,
    pending_evaluation,
    score_text,
)
from treelight.engine.types import (
    Action,
    Critique,
    Expand,
    ExpansionMode,
    NodeStatus,
    NodeView,
    TreeView,
)

FAILED = (NodeStatus.INVALID, NodeStatus.PRUNED)


class SelfRefine(Strategy):
    name = "refine"
    summary = "Self-refine: answer, critique the answer, revise it; repeat until it passes."
    explanation = (
        "Writes one whole answer, has it judged, and if it does not pass, writes a "
        "critique of it — from the verifier's own feedback when a checker rejected it "
        "(a failing test, a wrong sum), otherwise by asking the model — then asks for a "
        "revised answer that answers the critique. Nothing is pruned: every attempt and "
        "every critique stays in the chain, so you can see what each revision fixed."
    )

    class Options(StrategyOptions):
        rounds: int = Field(3, ge=1, le=100, description="at most this many revisions")
        pass_score: float = Field(
            0.99, ge=0, le=1, description="stop when an answer scores this much"
        )
        verifier_feedback: bool = Field(
            True, description="critique from the verifier's rejection when one spoke"
        )

    def mode_for(self, node: NodeView) -> str:
        if node.parent_id is None:
            return "solution"
        return (
            ExpansionMode.REVISE if node.status == NodeStatus.CRITIQUE else ExpansionMode.CRITIQUE
        )

    def samples(self) -> int:
        return 1

    def decide(self, tree: TreeView) -> Action:
        root = tree.root
        if root.status == NodeStatus.OPEN:
            return Expand(root.id, mode="solution", note="first answer")
        evaluate = pending_evaluation(tree)
        if evaluate:
            return evaluate
        if tree.with_status(NodeStatus.SOLVED):
            return self.finish(tree, "the judges pass the answer")
        answers = [
            n
            for n in tree.main()
            if n.parent_id is not None
            and n.status != NodeStatus.CRITIQUE
            and (n.parent_id == root.id or tree.nodes[n.parent_id].status == NodeStatus.CRITIQUE)
        ]
        if not answers:
            return self.finish(tree, "the model gave no answer")
        latest = max(answers, key=lambda n: n.id)
        passing = float(self.params["pass_score"])
        if (
            latest.status == NodeStatus.TERMINAL
            and latest.score is not None
            and latest.score >= passing
        ):
            return self.finish(tree, f"the judges pass the answer (score {score_text(latest)})")
        revisions = len(answers) - 1
        if revisions >= int(self.params["rounds"]):
            return self.finish(tree, f"{revisions} revisions done")
        kids = [k for k in tree.kids(latest.id) if k.branch == "main"]
        critiques = [k for k in kids if k.status == NodeStatus.CRITIQUE]
        if not critiques:
            if kids:  # a critique was asked for and came back unusable
                return self.finish(tree, "no usable critique of the latest answer")
            if (
                self.params["verifier_feedback"]
                and latest.status in FAILED
                and latest.status_reason
            ):
                return Critique(latest.id, latest.status_reason)
            return Expand(latest.id, mode="critique", note=f"critique answer #{latest.id}")
        critique = critiques[-1]
        return Expand(critique.id, mode="revise", note=f"revise #{latest.id} after the critique")
