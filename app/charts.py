"""Small charts of a run: node scores as the tree grew, tokens as calls were made."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import Session

from treelight.app.services import get_engine
from treelight.storage import queries


def run_charts(run_id: int) -> None:
    with Session(get_engine()) as session:
        nodes = queries.run_nodes(session, run_id)
        calls = queries.run_model_calls(session, run_id)
    left, right = st.columns(2)
    scored = [(n.id, n.score, n.status) for n in nodes if n.score is not None]
    with left:
        st.caption("Scores of judged nodes, in the order they were made")
        if scored:
            frame = pd.DataFrame(scored, columns=["node", "score", "status"])
            st.scatter_chart(frame, x="node", y="score", color="status", height=220)
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
