"""An evolutionary loop in the spirit of AlphaEvolve.

Generation 1 is `population` whole answers. Each generation is judged; the
best `parents` answers are selected and the rest pruned as "not selected";
each parent is then mutated — the model sees the parent and its verdicts and
writes variations — into the next generation, one layer deeper in the tree.
It stops at a solution or after `generations` layers.
"""

from __future__ import annotations

from treelight.engine.options import Field
from treelight.engine.strategies.base import (
    Strategy,
    StrategyOptions,
    cut_below,
    pending_evaluation,
    ranked,
    score_text,
)
from treelight.engine.types import Action, Expand, NodeStatus, NodeView, PrunedBy, TreeView

LIVE = ("terminal", "open")


class Evolve(Strategy):
    name = "evolve"
    summary = "Evolutionary loop: a population per generation; select the best, mutate them."
    explanation = (
        "Keeps a population of whole answers. Each generation is judged, the best "
        "`parents` survive and the rest are pruned as 'not selected' with their rank; "
        "each survivor is then shown to the model with its verdicts and mutated into "
        "new answers, which form the next generation (one layer deeper). Good when "
        "judges give graded scores: selection pressure does the rest."
    )

    class Options(StrategyOptions):
        population: int = Field(6, ge=1, le=1000, description="whole answers per generation")
        parents: int = Field(
            2, ge=1, le=1000, description="the best this many are kept and mutated"
        )
        generations: int = Field(3, ge=1, le=100, description="how many generations")

    def mode_for(self, node: NodeView) -> str:
        return "solution" if node.parent_id is None else "mutate"

    def samples(self) -> int:
        return max(1, int(self.params["population"]) // int(self.params["parents"]))

    def decide(self, tree: TreeView) -> Action:
        root = tree.root
        if root.status == NodeStatus.OPEN:
            return Expand(
                root.id,
                samples=int(self.params["population"]),
                mode="solution",
                note="generation 1",
            )
        evaluate = pending_evaluation(tree)
        if evaluate:
            return evaluate
        if tree.with_status(NodeStatus.SOLVED):
            return self.finish(tree, "solved")
        members = [n for n in tree.main() if n.parent_id is not None]
        if not members:
            return self.finish(tree, "generation 1 is empty")
        generation = max(n.depth for n in members)
        if generation > 1:  # finish the mutations of the previous generation's parents
            parents = [n for n in members if n.depth == generation - 1 and n.status in LIVE]
            for parent in ranked(parents):
                if not [k for k in tree.kids(parent.id) if k.branch == "main"]:
                    return self._mutate(parent, generation - 1)
        alive = ranked([n for n in members if n.depth == generation and n.status in LIVE])
        if not alive:
            return self.finish(tree, f"generation {generation}: no answer survived the judges")
        keep = int(self.params["parents"])
        cut = cut_below(
            alive, keep, f"not selected in generation {generation}", kind=PrunedBy.SELECTION
        )
        if cut:
            return cut
        if generation >= int(self.params["generations"]):
            return self.finish(tree, f"{generation} generations done")
        return self._mutate(alive[0], generation)

    def _mutate(self, parent: NodeView, generation: int) -> Expand:
        return Expand(
            parent.id,
            samples=self.samples(),
            mode="mutate",
            note=f"generation {generation + 1}: mutate #{parent.id} ({score_text(parent)})",
        )
