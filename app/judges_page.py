"""The Judges page: train a judge on stored trees, see how good it is, use it.

Training runs here, in the page (task features take seconds; embeddings call
the model once per new state, so they take minutes on the embedded model). A
judge file is then swapped into a run with the explorer's own Judges control.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st
from sqlmodel import Session

from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.engine.errors import TreelightError
from treelight.engine.judges.learned import describe, ranges
from treelight.engine.judges.learned_file import load
from treelight.engine.learning.cli import parse_ids, plot_reliability
from treelight.engine.learning.features import FEATURES
from treelight.engine.learning.training import TrainRequest, train_judge
from treelight.storage import queries
from treelight.storage.paths import treelight_home

FEATURE_HELP = {
    "task": "the task's own numbers for a state (Game of 24: the numbers left): seconds",
    "embedding": "the model's embedding of the state's text: one model call per new state",
    "both": "both side by side",
}


def judges_folder() -> Path:
    return treelight_home() / "judges"


def page() -> None:
    st.title("Judges")
    st.caption(
        "A judge learned from the search's own trees: a state is live when a checked "
        "solution lies below it, dead when every move there was tried and failed "
        "(or, as a soft label, when only failed finished paths were sampled below it). "
        "Train one on stored runs or evals (self-play that tries every move settles the "
        "most states), then swap it into a run under the explorer's tree."
    )
    train, files = st.tabs(["Train a judge", "Judge files"])
    with train:
        _train_form()
    with files:
        _judge_files()


def _train_form() -> None:
    engine = get_engine()
    with Session(engine) as session:
        evals = queries.list_evals(session)
    labels = {e.id or 0: f"eval #{e.id} · {e.task} · {Path(e.dataset).name}" for e in evals}
    with st.form("train_judge"):
        chosen = st.multiselect(
            "Evals to learn from", list(labels), format_func=lambda i: labels[i], key="train_evals"
        )
        runs = st.text_input("and/or runs", placeholder="e.g. 1,5-9", key="train_runs")
        left, right = st.columns(2)
        features = left.radio(
            "Features",
            FEATURES,
            index=FEATURES.index("task"),
            format_func=lambda f: f"{f}: {FEATURE_HELP[f]}",
            key="train_features",
        )
        holdout = right.slider(
            "Problems held out to score it", 0.0, 0.5, 0.2, 0.05, key="train_holdout"
        )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        name = right.text_input("File name", f"judge-{stamp}.judge", key="train_name")
        submitted = st.form_submit_button("Train", type="primary")
    if submitted:
        _train(chosen, runs, str(features), float(holdout), name)
    report = st.session_state.get("train_report")
    if report:
        _show_report(report)


def _train(evals: list[int], runs: str, features: str, holdout: float, name: str) -> None:
    out = judges_folder() / Path(name).name
    bars: dict[str, Any] = {}

    def stage(title: str, total: int) -> Any:
        bar = st.progress(0.0, text=title)
        bars[title] = [0, max(1, total)]

        def advance(n: int) -> None:
            bars[title][0] += n
            bar.progress(min(1.0, bars[title][0] / bars[title][1]), text=title)

        return advance

    request = TrainRequest(
        out=out,
        eval_ids=evals,
        run_ids=parse_ids(runs),
        runs_text=runs,
        features=features,
        holdout=holdout,
    )
    try:
        with st.status("Training…", expanded=True) as status:
            report = train_judge(get_engine(), request, stage)
            report["plot"] = plot_reliability(report, out)
            status.update(label=f"Trained: {out.name}", state="complete")
    except TreelightError as error:
        st.error(str(error))
        return
    st.session_state["train_report"] = report


def _show_report(report: dict[str, Any]) -> None:
    held = report.get("holdout") or {}
    a, b, c, d = st.columns(4)
    a.metric("Held-out AUC", "n/a" if held.get("auc") is None else f"{held['auc']:.3f}")
    b.metric("Balanced accuracy", f"{held['balanced_accuracy']:.0%}" if held else "n/a")
    c.metric("Live states", f"{report['live']:,}")
    d.metric("Dead states", f"{report['dead']:,}")
    if report.get("sampled"):
        st.caption(
            f"{report['sampled']:,} of the dead states are soft labels: the search only "
            "sampled below them, and every finished path it saw there failed its check."
        )
    st.text(
        f"{Path(report['file']).name}: a {report['model']} on {report['features']} features, "
        f"from {len(report['trained_items'])} runs."
    )
    if held:
        alone = held["model_alone"]
        st.text(
            f"The model alone on the held-out problems: AUC {alone['auc'] or 0:.3f}, balanced "
            f"accuracy {alone['balanced_accuracy']:.0%}; {held['remembered']:.0%} of those "
            "states were in the training trees (judged by what was seen)."
        )
    if report.get("plot"):
        st.image(report["plot"], caption="Calibration on the held-out problems", width=420)
    st.markdown("**Use it**: in the explorer, open *Judges* under the tree, choose `learned`, and")
    st.code(f"learned:file={report['file']}", language=None)
    st.caption(
        "as its options, then Swap judges (tick the whole-tree box to list which decisions "
        "would change). From the command line: --judges game24-verifier,learned:file=PATH."
    )


def _judge_files() -> None:
    found = sorted(judges_folder().glob("*.judge"))
    if not found:
        st.info(f"No judge files in {judges_folder()} yet: train one in the first tab.")
        return
    rows: list[dict[str, Any]] = []
    for path in found:
        try:
            judge = load(path)
        except TreelightError as error:
            rows.append({"file": path.name, "about": str(error)})
            continue
        meta = judge.meta
        held = meta.get("holdout") or {}
        items = [int(e["item"]) for e in meta.get("trained_items", []) if e.get("item") is not None]
        rows.append(
            {
                "file": path.name,
                "task": meta.get("task"),
                "features": meta.get("features"),
                "model": meta.get("model"),
                "states": meta.get("states"),
                "held-out AUC": held.get("auc"),
                "balanced accuracy": held.get("balanced_accuracy"),
                "trained on items": ranges(items) if items else f"{len(meta.get('runs', []))} runs",
                "about": describe(judge),
            }
        )
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(md(f"Files in {judges_folder()}. Use one as learned:file=PATH."))
