"""Judges learned from the search's own trees: labels, the judge file, the
`learned` judge in a run, `treelight train judge`."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from treelight.engine.errors import BadArguments
from treelight.engine.judges.learned_file import load, save
from treelight.engine.learning.fitting import CANDIDATES, fit, probabilities
from treelight.engine.learning.labels import PERSON, SAMPLED, TREE, Tree, TreeNode, label_trees
from treelight.engine.learning.training import TrainRequest, load_trees, train_judge
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.tasks.game24 import Game24
from treelight.engine.tasks.math_word import MathWordProblem
from treelight.storage.database import make_engine
from treelight.storage.models import Evaluation, Node
from treelight.storage.vocabulary import NodeStatus, PrunedBy

# -- labels on hand-built trees ------------------------------------------------


class Builder:
    """A Game of 24 tree written move by move, its states computed by the task."""

    def __init__(self, problem: str) -> None:
        self.task = Game24(problem)
        self.nodes: list[TreeNode] = [
            TreeNode(1, None, problem, self.task.initial_state(), NodeStatus.EXPANDED, "")
        ]

    def move(self, parent: int, move: str, status: str = "", pruned_by: str = "") -> int:
        base = self.nodes[parent - 1]
        step = self.task.apply(base.state, move, "step")
        assert not step.invalid, step.invalid
        state = dict(step.state)
        if step.answer is not None:
            state["answer"] = step.answer
            if not status:
                passed = self.task.check_answer(step.answer)
                assert passed is not None
                status = NodeStatus.SOLVED if passed.passed else NodeStatus.PRUNED
                pruned_by = "" if passed.passed else PrunedBy.JUDGE
        node = TreeNode(
            len(self.nodes) + 1, parent, step.text or move, state, status or "open", pruned_by
        )
        self.nodes.append(node)
        return node.id

    def tree(self, run_id: int = 1, person: dict[int, str] | None = None) -> Tree:
        return Tree(run_id, self.task, self.nodes, person or {})


def every_move(builder: Builder, parent: int) -> list[int]:
    left = builder.nodes[parent - 1].state["left"]
    made = []
    for i, a in enumerate(left):
        for j, b in enumerate(left):
            for op in "+-*/":
                if i != j and not (op == "/" and float(eval(b)) == 0):  # noqa: S307
                    made.append(builder.move(parent, f"{a} {op} {b}"))
    return made


def test_a_state_is_live_when_a_checked_solution_lies_below_it() -> None:
    tree = Builder("1 1 4 6")
    a = tree.move(1, "1 * 1")  # left 4 6 1
    b = tree.move(a, "4 * 6")  # left 1 24
    tree.move(b, "24 * 1")  # 24: solved
    labels = label_trees([tree.tree()])
    assert labels.nodes[a] == (True, TREE) and labels.nodes[b] == (True, TREE)
    assert labels.nodes[1] == (True, TREE)
    assert labels.dead == 0


def test_a_state_is_dead_only_when_every_move_there_was_tried_and_failed() -> None:
    tree = Builder("1 1 4 6")
    a = tree.move(1, "1 + 1")  # left 4 6 2
    b = tree.move(a, "4 * 6")  # left 2 24: no move makes 24
    leaves = every_move(tree, b)
    labels = label_trees([tree.tree()])
    assert labels.nodes[b] == (False, TREE)
    assert all(leaf not in labels.nodes for leaf in leaves)  # ends: the verifiers' to judge
    assert labels.nodes[a] == (False, SAMPLED)  # its other moves were never tried:
    assert a not in label_trees([tree.tree()], soft=False).nodes  # no proof, a soft label

    sampled = Builder("1 1 4 6")
    c = sampled.move(sampled.move(1, "1 + 1"), "4 * 6")
    for move in ("2 + 24", "2 * 24", "24 - 2", "2 - 24", "24 / 2"):  # not 2 / 24
        sampled.move(c, move)
    assert c not in label_trees([sampled.tree()], soft=False).nodes  # only sampled: no proof


def test_a_sampled_subtree_whose_finished_paths_all_failed_is_a_soft_label_and_says_so() -> None:
    sampled = Builder("1 1 4 6")
    a = sampled.move(1, "1 + 1")
    c = sampled.move(a, "4 * 6")
    for move in ("2 + 24", "2 * 24", "24 - 2", "2 - 24", "24 / 2"):  # not 2 / 24: sampled
        sampled.move(c, move)
    open_path = sampled.move(1, "1 * 1")  # nothing finished below: no evidence at all
    labels = label_trees([sampled.tree()])
    assert labels.nodes[c] == (False, SAMPLED) and labels.nodes[a] == (False, SAMPLED)
    # five failed ends below: P(live) = 1/(5+2), Laplace's rule of succession
    assert labels.states["2 24"].target == pytest.approx(1 / 7)
    assert not labels.states["2 24"].settled and labels.sampled == 3  # the root's too
    assert open_path not in labels.nodes
    settled = Builder("1 1 4 6")
    every_move(settled, settled.move(settled.move(1, "1 + 1"), "4 * 6"))
    proved = label_trees([settled.tree()]).states["2 24"]
    assert proved.source == TREE and proved.target == 0.0 and proved.settled


def math_tree(person: dict[int, str] | None = None) -> Tree:
    """root -> "12 + 5 = 17" -> Answer: 17 (checked right); root -> "12 - 5 = 7" ->
    Answer: 7 and Answer: 8 (both checked wrong); root -> "12 * 5" (nothing below)."""
    task = MathWordProblem("Anna has 12 pencils and gets 5 more. How many?", {"answer": "17"})
    ended = {"status": NodeStatus.PRUNED, "pruned_by": PrunedBy.JUDGE}
    rows: list[tuple[int | None, str, dict[str, Any], dict[str, str]]] = [
        (None, task.problem, {}, {"status": NodeStatus.EXPANDED}),
        (1, "12 + 5 = 17", {}, {"status": NodeStatus.EXPANDED}),
        (2, "Answer: 17", {"answer": "17"}, {"status": NodeStatus.SOLVED}),
        (1, "12 - 5 = 7", {}, {"status": NodeStatus.EXPANDED}),
        (4, "Answer: 7", {"answer": "7"}, ended),
        (4, "Answer: 8", {"answer": "8"}, ended),
        (1, "12 * 5 = 60", {}, {"status": NodeStatus.OPEN}),
    ]
    nodes = [
        TreeNode(i, parent, text, state, how["status"], how.get("pruned_by", ""))
        for i, (parent, text, state, how) in enumerate(rows, start=1)
    ]
    return Tree(1, task, nodes, person or {})


def test_math_steps_are_labelled_by_their_paths_process_labels() -> None:
    labels = label_trees([math_tree()])
    assert labels.nodes[2] == (True, TREE) and labels.nodes[1] == (True, TREE)
    assert labels.nodes[4] == (False, SAMPLED)  # two wrong answers below, nothing right
    key = next(k for k, s in labels.states.items() if s.source == SAMPLED)
    assert labels.states[key].target == pytest.approx(1 / 4)
    assert 7 not in labels.nodes and 3 not in labels.nodes  # unexplored; an end
    assert (labels.finished, labels.solved) == (3, 1)
    # what a learned judge embeds: the problem and the path, not the step alone
    assert labels.states[key].text.startswith("Problem: Anna has 12 pencils")
    assert labels.states[key].text.endswith("12 - 5 = 7")
    assert label_trees([math_tree(person={4: "good"})]).nodes[4] == (True, PERSON)
    assert 4 not in label_trees([math_tree()], soft=False).nodes


def test_soft_labels_pull_a_fit_toward_their_probability() -> None:
    x = np.array([[0.0], [0.1], [1.0], [1.1], [2.0], [2.1]])
    y = np.array([0, 0, 0, 0, 1, 1])
    target = np.array([0.0, 0.0, 0.5, 0.5, 1.0, 1.0])  # the middle: half live
    for model in ("logistic", "gbm"):
        soft = probabilities(fit(model, x, y, 0, target), x)
        hard = probabilities(fit(model, x, y, 0), x)
        assert soft[2] > hard[2], model  # the soft middle is judged more live
        assert soft[0] < soft[2] < soft[4], model


def test_what_one_tree_settled_holds_in_another_where_the_task_shares_states() -> None:
    first = Builder("1 1 4 6")
    every_move(first, first.move(first.move(1, "1 + 1"), "4 * 6"))  # "2 24" dead here
    second = Builder("2 3 4 8")
    seen = second.move(second.move(1, "3 * 8"), "4 - 2")  # left 24 2: the same state
    labels = label_trees([first.tree(1), second.tree(2)])
    assert labels.nodes[seen] == (False, TREE)
    assert labels.states["2 24"].problems == frozenset({"1 1 4 6", "2 3 4 8"})


def test_a_persons_label_overrides_the_trees_and_says_so() -> None:
    tree = Builder("1 1 4 6")
    a = tree.move(1, "1 * 1")
    tree.move(tree.move(a, "4 * 6"), "24 * 1")
    labels = label_trees([tree.tree(person={a: "bad"})])
    assert labels.nodes[a] == (False, PERSON)
    assert labels.nodes[1] == (True, TREE)


# -- the judge file --------------------------------------------------------------


def test_each_model_is_applied_by_numpy_exactly_as_fitted(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    y = ((x[:, 0] * x[:, 1] + x[:, 2]) > 0.8).astype(int)
    for model in CANDIDATES:
        fitted = fit(model, x, y, seed=0)
        path = tmp_path / f"{model}.judge"
        arrays = {**fitted.arrays, "memory_keys": np.array(["a"]), "memory_live": np.array([True])}
        save(path, {"model": model, "task": "game24", "features": "task", "states": 1}, arrays)
        loaded = load(path)
        assert np.allclose(loaded.predict(x), probabilities(fitted, x))
        expected = fitted.estimator.predict_proba((x - x.mean(0)) / _std(x))[:, 1]
        assert np.allclose(loaded.predict(x), expected, atol=1e-6), model
        assert loaded.memory() == {"a": True}


def _std(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return std


class Payload:
    """Unpickling this would create a file: the proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_a_judge_file_with_a_pickled_payload_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.judge"
    meta = json.dumps({"format": "treelight-judge", "version": 1, "model": "logistic"})
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("meta.npy", "w") as out:
            np.save(out, np.frombuffer(meta.encode(), "u1"))
        with archive.open("coef.npy", "w") as out:
            np.save(out, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    assert pickle.loads(pickle.dumps(Payload(tmp_path / "probe"))) is None  # the payload works
    assert (tmp_path / "probe").exists()
    with pytest.raises(BadArguments, match="pickled Python objects"):
        load(path)
    assert not marker.exists()


def test_a_file_that_is_not_a_judge_file_says_so(tmp_path: Path) -> None:
    junk = tmp_path / "notes.judge"
    junk.write_text("hello")
    with pytest.raises(BadArguments, match="not a judge file"):
        load(junk)
    with pytest.raises(BadArguments, match="treelight train judge"):
        load(tmp_path / "missing.judge")


# -- trained on self-play trees, used in a run ----------------------------------


def self_play(engine: Engine, problem: str) -> int:
    """Chance trying every move there is, to the end: a tree that settles states."""
    run = create_run(
        engine,
        task="game24",
        problem=problem,
        task_params={"moves": "all"},
        strategy="bfs",
        strategy_params={"beam": 1000, "stop_at_first": False},
        generator={"backend": "random"},
        judges=[{"name": "game24-verifier"}],
        status="running",
    )
    Runner(engine, run.id or 0).run_until_idle()
    return run.id or 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("selfplay")
    engine = make_engine(f"sqlite:///{folder / 'trees.db'}")
    runs = [self_play(engine, p) for p in ("4 4 4 4", "1 1 1 1", "1 1 1 8")]
    out = folder / "g24.judge"
    report = train_judge(
        engine,
        TrainRequest(out=out, run_ids=runs, features="task", holdout=0.34),
        lambda stage, total: lambda n: None,
    )
    return engine, report, out


def test_train_judge_reports_what_it_learned_from(
    trained: tuple[Engine, dict[str, Any], Path],
) -> None:
    _, report, out = trained
    assert {
        "file",
        "states",
        "live",
        "dead",
        "features",
        "model",
        "holdout",
        "trained_items",
    } <= set(report)
    assert report["live"] > 0 and report["dead"] > 0
    assert report["states"] == report["live"] + report["dead"]
    assert {i["problem"] for i in report["trained_items"]} == {"4 4 4 4", "1 1 1 1", "1 1 1 8"}
    held = report["holdout"]
    assert held is not None and held["states"] > 0 and 0 <= held["balanced_accuracy"] <= 1
    meta = load(out).meta
    assert meta["task"] == "game24" and meta["features"] == "task"
    assert meta["embedding"] is None and meta["treelight_version"]


def test_the_learned_judge_scores_by_memory_and_says_what_it_is(
    trained: tuple[Engine, dict[str, Any], Path], engine: Engine
) -> None:
    _, report, out = trained
    run = create_run(
        engine,
        task="game24",
        problem="4 4 4 4",
        strategy="bfs",
        strategy_params={"beam": 3},
        task_params={"moves": "all"},
        generator={"backend": "random"},
        judges=[{"name": "game24-verifier"}, {"name": "learned", "file": str(out)}],
        status="running",
        allow_trained_items=True,
    )
    Runner(engine, run.id or 0).run_until_idle()
    with Session(engine) as session:
        verdicts = session.exec(select(Evaluation).where(Evaluation.judge == "learned")).all()
        nodes = {n.id: n for n in session.exec(select(Node))}
    assert verdicts
    seen = [v for v in verdicts if "seen" in v.rationale]
    assert seen and all(v.score in (0.0, 1.0) for v in seen)
    assert all(
        v.rationale.startswith(f"learned judge g24.judge — trained on {report['states']:,} states")
        for v in verdicts
        if v.score is not None
    )
    # what it remembered as live is live: the memory holds what the trees showed
    memory = load(out).memory()
    for v in seen:
        key = Game24("4 4 4 4").state_key(nodes[v.node_id].state)
        assert memory[key] == (v.score == 1.0)


def test_a_run_on_a_problem_the_judge_learned_from_is_refused(
    trained: tuple[Engine, dict[str, Any], Path], engine: Engine
) -> None:
    _, _, out = trained
    settings: dict[str, Any] = {
        "task": "game24",
        "strategy": "bfs",
        "generator": {"backend": "random"},
        "judges": [{"name": "game24-verifier"}, {"name": "learned", "file": str(out)}],
    }
    with pytest.raises(BadArguments) as refused:
        create_run(engine, problem="1 1 1 8", **settings)
    assert "g24.judge was trained on 3 other problems; this run includes 1 1 1 8" in str(
        refused.value
    )
    assert "--allow-trained-items" in str(refused.value)
    create_run(engine, problem="4 9 10 13", **settings)  # a new problem is fine
    allowed = create_run(engine, problem="1 1 1 8", allow_trained_items=True, **settings)
    from treelight.storage import queries

    with Session(engine) as session:
        [created] = [e for e in queries.run_events(session, allowed.id or 0) if e.kind == "create"]
    assert "allowed: The judge g24.judge was trained on" in created.reason


@pytest.mark.parametrize("features", ["embedding", "both"])
def test_a_judge_that_reads_embeddings_refuses_another_model(
    tmp_path: Path, engine: Engine, features: str
) -> None:
    path = tmp_path / "e.judge"
    fitted = fit("logistic", np.array([[0.0], [1.0], [0.2], [0.9]]), np.array([0, 1, 0, 1]), 0)
    meta = {
        "model": "logistic",
        "task": "game24",
        "features": features,
        "states": 4,
        "embedding": {"backend": "embedded", "model": "smollm2-135m"},
    }
    save(
        path,
        meta,
        {**fitted.arrays, "memory_keys": np.array(["x"]), "memory_live": np.array([False])},
    )
    with pytest.raises(BadArguments, match="reads embeddings made by smollm2-135m"):
        create_run(
            engine,
            task="game24",
            problem="4 9 10 13",
            strategy="bfs",
            generator={"backend": "random"},
            judges=[{"name": "learned", "file": str(path)}],
        )


def test_train_judge_on_the_command_line(
    trained: tuple[Engine, dict[str, Any], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from treelight.engine.cli import main

    engine, _, _ = trained
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    out = tmp_path / "cli.judge"
    assert (
        main(["train", "judge", "--runs", "1-3", "--features", "task", "--out", str(out), "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == str(out) and out.is_file()
    assert report["plot"] == str(out) + ".calibration.png" and Path(report["plot"]).is_file()
    assert main(["train", "judge", "--runs", "2", "--features", "task", "--out", str(out)]) == 2
    assert "(0 live, " in capsys.readouterr().err  # 1 1 1 1 alone: nothing live to learn
    assert main(["train", "judge", "--features", "task"]) == 2
    assert "--eval ID and/or --runs" in capsys.readouterr().err


def test_learned_verdicts_replay_exactly_on_resume(
    trained: tuple[Engine, dict[str, Any], Path], tmp_path: Path
) -> None:
    _, _, out = trained

    def verdicts(stop_after: int | None) -> list[tuple[str, float | None, str]]:
        engine = make_engine(f"sqlite:///{tmp_path / f'r{stop_after}.db'}")
        run = create_run(
            engine,
            task="game24",
            problem="4 9 10 13",
            strategy="bfs",
            strategy_params={"beam": 3},
            generator={"backend": "random"},
            judges=[{"name": "game24-verifier"}, {"name": "learned", "file": str(out)}],
            budget={"max_calls": stop_after} if stop_after else {},
            status="running",
        )
        Runner(engine, run.id or 0).run_until_idle()
        if stop_after:
            from treelight.engine import steering
            from treelight.storage.database import unit_of_work
            from treelight.storage.models import Run

            with unit_of_work(engine, run.id) as session:
                stored = session.get(Run, run.id)
                assert stored is not None and stored.status == "stopped"
                stored.budget = {}
            steering.resume(engine, run.id or 0)
            Runner(engine, run.id or 0).run_until_idle()
        with Session(engine) as session:
            nodes = {n.id: n.key for n in session.exec(select(Node))}
            rows = session.exec(select(Evaluation).where(Evaluation.judge == "learned")).all()
            return sorted((nodes[r.node_id], r.score, r.rationale) for r in rows)

    assert verdicts(2) == verdicts(None)


def test_methods_name_their_judges_joined_by_plus(
    trained: tuple[Engine, dict[str, Any], Path],
) -> None:
    from treelight.engine.evals.methods import parse_method

    _, _, out = trained
    method = parse_method(f"bfs:judges=game24-verifier+learned:file={out};beam=5", "game24")
    assert method.params == {"beam": 5}
    assert method.judges == [{"name": "game24-verifier"}, {"name": "learned", "file": str(out)}]
    with pytest.raises(BadArguments, match="unknown judge 'nope'"):
        parse_method("bfs:judges=nope", "game24")
    with pytest.raises(BadArguments, match="judges nothing"):
        parse_method("cot:judges=value", "game24")
    chance = parse_method(f"random:judges=game24-verifier+learned:file={out}", "game24")
    assert chance.generator == {"backend": "random"} and chance.judges is not None
    assert chance.judges[1]["name"] == "learned"


def test_an_eval_or_bench_over_trained_items_is_refused_naming_them(
    trained: tuple[Engine, dict[str, Any], Path], engine: Engine, tmp_path: Path
) -> None:
    from treelight.engine.bench.game24 import run_bench
    from treelight.engine.evals.eval_runs import create_eval
    from treelight.engine.generators.chance import ChanceGenerator

    _, _, out = trained
    data = tmp_path / "items.jsonl"
    problems = ["4 9 10 13", "1 1 1 8", "1 1 1 1", "2 3 4 8"]
    data.write_text("".join(json.dumps({"problem": p, "answer": "24"}) + "\n" for p in problems))
    method = f"bfs:judges=game24-verifier+learned:file={out}"
    with pytest.raises(BadArguments, match=r"this eval includes 1–2\. "):
        create_eval(
            engine,
            dataset=str(data),
            task="game24",
            methods=[method],
            generator={"backend": "random"},
        )
    allowed = create_eval(
        engine,
        dataset=str(data),
        task="game24",
        methods=[method],
        generator={"backend": "random"},
        allow_trained_items=True,
    )
    assert "was trained on" in allowed.settings["allowed_trained_items"]
    judges = [{"name": "game24-verifier"}, {"name": "learned", "file": str(out)}]
    with pytest.raises(BadArguments, match="this bench includes 7"):
        run_bench(
            engine, ChanceGenerator(), [(6, "4 9 10 13"), (7, "1 1 1 8")], ["bfs"], judges=judges
        )


@pytest.mark.model
def test_embeddings_of_the_embedded_model_train_a_judge_and_count_in_a_run(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from treelight.storage.models import ModelCall, Run

    engine = make_engine(f"sqlite:///{tmp_path / 'trees.db'}")
    runs = [self_play(engine, p) for p in ("4 4 4 4", "1 1 1 1")]
    out = tmp_path / "e.judge"
    request = TrainRequest(out=out, run_ids=runs, features="embedding", holdout=0.5, max_states=40)
    report = train_judge(engine, request, lambda stage, total: lambda n: None)
    assert report["features"] == "embedding" and report["states"] > 0
    meta = load(out).meta
    assert (
        meta["embedding"]["backend"] == "embedded" and len(meta["embedding"]["file_sha256"]) == 64
    )
    with Session(engine) as session:
        made = session.exec(select(ModelCall).where(ModelCall.purpose == "embed")).all()
    assert made and all(c.run_id is None and c.prompt_tokens > 0 for c in made)
    assert all(len(c.extra["embedding"]) == 576 for c in made)  # SmolLM2-135M's width
    assert "pooling_type" not in capfd.readouterr().err  # llama.cpp's note, asked on purpose
    train_judge(engine, request, lambda stage, total: lambda n: None)
    with Session(engine) as session:  # the same texts again: served from storage
        assert len(
            session.exec(select(ModelCall).where(ModelCall.purpose == "embed")).all()
        ) == len(made)

    run = create_run(
        engine,
        task="game24",
        problem="2 3 4 8",
        strategy="bfs",
        strategy_params={"beam": 2},
        generator={"backend": "embedded"},
        judges=[{"name": "game24-verifier"}, {"name": "learned", "file": str(out)}],
        budget={"max_calls": 12},
        status="running",
    )
    Runner(engine, run.id or 0).run_until_idle()
    with Session(engine) as session:
        stored = session.get(Run, run.id)
        calls = session.exec(select(ModelCall).where(ModelCall.run_id == run.id)).all()
        learned = session.exec(select(Evaluation).where(Evaluation.judge == "learned")).all()
    assert stored is not None and stored.model_calls == len(calls) == 12  # embeddings count
    assert stored.status == "stopped" and "model-call budget" in stored.status_reason
    embeds = [c for c in calls if c.purpose == "embed"]
    assert embeds and all(c.extra["embedding"] for c in embeds)
    scored = [v for v in learned if v.score is not None and "embedding features" in v.rationale]
    assert scored and all(
        v.model_call_ids and set(v.model_call_ids) <= {c.id for c in embeds} for v in scored
    )


def test_the_judges_page_trains_a_judge_and_lists_it(app_engine: Engine) -> None:
    from tests.conftest import new_app

    for problem in ("4 4 4 4", "1 1 1 1", "1 1 1 8"):
        self_play(app_engine, problem)
    at = new_app()
    at.run()
    at.switch_page("views/judges_page.py").run()
    assert not at.exception
    at.text_input(key="train_runs").set_value("1-3")
    at.text_input(key="train_name").set_value("class.judge")
    at.slider(key="train_holdout").set_value(0.35)
    at.button[0].click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Live states"] != "0" and metrics["Dead states"] != "0"
    assert metrics["Held-out AUC"] != "n/a" or metrics["Balanced accuracy"] != "n/a"
    assert any("learned:file=" in c.value and "class.judge" in c.value for c in at.code)
    from treelight.app.judges_page import judges_folder

    assert (judges_folder() / "class.judge").is_file()
    listed = at.dataframe[0].value
    assert "class.judge" in list(listed["file"])


def test_the_teaching_preset_runs_the_built_in_learned_judge(app_engine: Engine) -> None:
    from tests.conftest import new_app
    from treelight.engine.judges.learned import builtin_judge
    from treelight.storage.models import Run

    at = new_app().run()
    at.switch_page("views/new_run.py").run()
    preset = next(o for o in at.selectbox(key="preset").options if "judge learned" in o)
    at.selectbox(key="preset").set_value(preset).run()
    assert "learned" in at.multiselect(key=f"judges_game24_{preset}").value
    at.button(key="start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with Session(app_engine) as session:
        [run] = session.exec(select(Run)).all()
    assert run.problem == "4 5 6 10"
    assert {"name": "learned", "file": str(builtin_judge("game24-selfplay"))} in run.judges
    meta = load(builtin_judge("game24-selfplay")).meta
    assert "4 5 6 10" not in {e["problem"] for e in meta["trained_items"]}  # a test puzzle


def test_a_math_judge_learns_from_an_evals_trees_checked_against_the_items_answers(
    tmp_path: Path,
    treelight_home: Path,
    httpserver: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An eval holds each item's answer out of its searches, so their finished paths
    are unchecked; `train judge` checks them against the items' answers: steps
    below which "Answer: 17" was right are live, the rest soft-labelled dead, and
    the learned judge then scores a new problem's steps by their embeddings (an
    OpenAI-compatible /v1/embeddings at the network edge)."""
    from tests.fake_openai import KEY, FakeOpenAI
    from treelight.engine.cli import main

    fake = FakeOpenAI(httpserver)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
    items = [("Anna has 12 pencils and gets 5 more. How many?", "17"), ("What is 20 - 3?", "17")]
    items += [("What is 2 + 2?", "4"), ("What is 8 * 3?", "24"), ("What is 9 + 8?", "17")]
    data = tmp_path / "math.jsonl"
    data.write_text("".join(json.dumps({"problem": p, "answer": a}) + "\n" for p, a in items))
    script = tmp_path / "outputs.json"
    script.write_text(json.dumps(["12 + 5 = 17", "3 * 4 = 12", "Answer: 17", "Answer: 12"] * 4))
    method = "bfs:beam=2;samples=2;stop_at_first=false;steps=2"
    assert main(["eval", "--dataset", str(data), "--task", "math", "--backend", "scripted",
                 "--script", str(script), "--methods", method, "--json"]) == 0  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "math.judge"
    args = ["train", "judge", "--eval", "1", "--backend", "openai", "--model", "tiny-1b"]
    assert main([*args, "--out", str(out), "--holdout", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["live"] > 0 and report["dead"] > 0 and report["sampled"] > 0
    assert report["features"] == "embedding"
    engine = make_engine(f"sqlite:///{treelight_home / 'treelight.db'}")
    labels = label_trees(load_trees(engine, [1], []))
    problems = dict(items)
    for state in labels.states.values():  # live exactly where "Answer: 17" is right
        [problem] = state.problems
        assert state.live == (problems[problem] == "17"), state.text
        assert state.text.startswith(f"Problem: {problem}")
    run = create_run(
        engine,
        task="math",
        problem="What is 10 + 7?",
        task_params={"answer": "17"},
        strategy="bfs",
        strategy_params={"beam": 2, "samples": 2, "steps": 2},
        generator={"backend": "openai", "model": "tiny-1b"},
        judges=[{"name": "calculator"}, {"name": "learned", "file": str(out)}],
        status="running",
    )
    Runner(engine, run.id or 0).run_until_idle()
    with Session(engine) as session:
        learned = session.exec(
            select(Evaluation).where(Evaluation.judge == "learned", Evaluation.run_id == run.id)
        ).all()
    scored = [v for v in learned if v.score is not None]
    assert scored and all("embedding features" in v.rationale for v in scored)
