"""Treelight from a script: a Game of 24 search on the embedded model, steered by hand.

    python docs/examples/python_api.py            # the embedded SmolLM2-135M
    python docs/examples/python_api.py 4 9 10 13  # another puzzle

The run is stored like any other: `treelight show N` prints it and the explorer
(`treelight app`) draws it.
"""

from __future__ import annotations

import sys

from treelight.engine import api


def main(numbers: str) -> None:
    run = api.create_run(
        "game24",
        numbers,
        strategy="bfs",
        strategy_options={"beam": 2, "samples": 2},
        judges="game24-verifier",
        budget={"max_calls": 6},
    )
    run.step()  # the first expansion: the root's candidates, then paused
    candidates = [n for n in run.tree() if n.parent_id is not None]
    print(f"run #{run.run_id}: {len(candidates)} candidates after one step")
    for node in candidates:
        print(f"  #{node.id} [{node.status}] {node.text!r} {node.status_reason}")

    live = [n for n in candidates if n.status == "open"]
    if live:
        run.prior(live[0].id, "multiply to get close to 24")  # a hint for its subtree
        run.pin(live[0].id)  # explore it first
    result = run.run()  # to the end or the budget
    print(f"{result.status}: {result.status_reason}; answer: {result.answer}")
    pruned = [n for n in run.tree() if n.status == "pruned"]
    print(f"{len(pruned)} pruned, by: {sorted({n.pruned_by for n in pruned})}")
    print(f"{len(run.export('json'))} characters of JSON; `treelight show {run.run_id}` prints it")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "4 9 10 13")
