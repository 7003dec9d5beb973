"""Small charts of a run: node scores as the tree grew, tokens as calls were made."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from sqlmodel import Session

from treelight.app.services import get_engine
from treelight.engine.views.palette import CATEGORIES, category
from treelight.storage import queries
from treelight.storage.models import Node


def run_charts(run_id: int) -> None:
    with Session(get_engine()) as session:
        nodes = queries.run_nodes(session, run_id)
        calls = queries.run_model_calls(session, run_id)
    left, right = st.columns(2)
    scored = [n for n in nodes if n.score is not None]
    with left:
        st.caption("Scores of judged nodes by step (depth in the tree), in the tree's colours")
        if scored:
            st.altair_chart(_score_chart(scored), width="stretch")
        else:
            st.text("No node judged yet.")
    with right:
        st.caption("Tokens used, call by call (prompt tokens reused from the cache in grey)")
        made = [c for c in calls if c.error is None]
        if made:
            frame = pd.DataFrame(
                {
                    "call": range(1, len(made) + 1),
                    "prompt (new)": [c.prompt_tokens - c.cached_prompt_tokens for c in made],
                    "prompt (reused)": [c.cached_prompt_tokens for c in made],
                    "generated": [c.completion_tokens for c in made],
                }
            )
            st.bar_chart(frame, x="call", height=220, color=["#3182bd", "#bdbdbd", "#fd8d3c"])
        else:
            st.text("No model call yet.")


def _score_chart(scored: list[Node]) -> alt.Chart:
    frame = pd.DataFrame(
        {
            "step": [n.depth for n in scored],
            "score": [n.score for n in scored],
            "node": [f"#{n.id}" for n in scored],
            "status": [CATEGORIES[category(n)][1] for n in scored],
        }
    )
    shown = [key for key in CATEGORIES if CATEGORIES[key][1] in set(frame["status"])]
    colours = alt.Scale(
        domain=[CATEGORIES[k][1] for k in shown], range=[CATEGORIES[k][0] for k in shown]
    )
    return (
        alt.Chart(frame, height=220)
        .mark_circle(size=70, opacity=0.85, stroke="#555555", strokeWidth=0.5)
        .encode(
            x=alt.X("step:O", title="step (depth)"),
            xOffset="jitter:Q",
            y=alt.Y("score:Q"),
            color=alt.Color("status:N", scale=colours, legend=alt.Legend(orient="bottom")),
            tooltip=["node", "status", "score"],
        )
        .transform_calculate(jitter="random()")
    )
