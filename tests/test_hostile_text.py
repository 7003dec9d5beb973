"""Arbitrary model text through parse -> store -> export -> render: never a crash,
always a node, never markup on the page (property-based, hypothesis)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from treelight.app.safe import md
from treelight.engine.run.creation import create_run
from treelight.engine.run.loop import Runner
from treelight.engine.views.folding import Folded
from treelight.engine.views.html_export import standalone_html
from treelight.engine.views.text import format_tree
from treelight.engine.views.vis import vis_elements
from treelight.storage import queries
from treelight.storage.database import make_engine
from treelight.storage.export import run_to_dict, run_to_graphml

MARKUP = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "</script><b>",
        "]]>",
        "[x](javascript:alert(1))",
        "![i](http://127.0.0.1:9/x)",
        "\x00",
        "\ud800",
        "&amp;",
        "\u202e",
        "{{7*7}}",
        "\n\n",
        "4 + 4 = 8 (left: 4 4 8)",
        "Answer: (4 + 4) * 4 - 8",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=40), MARKUP), max_size=6).map("".join)

ENGINE: dict[str, Engine] = {}


def engine_for(tmp_path_factory) -> Engine:  # type: ignore[no-untyped-def]
    if "e" not in ENGINE:
        ENGINE["e"] = make_engine(f"sqlite:///{tmp_path_factory.mktemp('h') / 'h.db'}")
    return ENGINE["e"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(outputs=st.lists(TEXT, min_size=1, max_size=4), task=st.sampled_from(["game24", "question"]))
def test_any_model_text_becomes_nodes_and_exports_safely(
    tmp_path_factory,
    outputs: list[str],
    task: str,  # type: ignore[no-untyped-def]
) -> None:
    engine = engine_for(tmp_path_factory)
    problem = "4 4 4 4" if task == "game24" else "What is it?"
    run = create_run(
        engine,
        task=task,
        problem=problem,
        strategy="bfs",
        strategy_params={"samples": len(outputs), "steps": 1},
        judges=[],
        generator={"backend": "scripted", "outputs": outputs},
        status="running",
    )
    assert run.id is not None
    outcome = Runner(engine, run.id).run_until_idle()
    assert outcome.error is None, outcome.error
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run.id)
        stored = queries.get_run(session, run.id)
        assert stored is not None
        exported = json.loads(json.dumps(run_to_dict(session, run.id)))
        ET.fromstring(run_to_graphml(session, run.id))  # well-formed XML, whatever the text
        text_view = format_tree(stored, nodes, queries.run_evaluations(session, run.id))
    children = [n for n in nodes if n.parent_id is not None]
    assert len(children) >= len(outputs)  # every output became at least one node
    assert all(n.status == "invalid" and n.status_reason for n in children if not n.text.strip())
    assert len(exported["nodes"]) == len(nodes)
    assert text_view.startswith(f"Run #{run.id}")
    vis_nodes, _edges = vis_elements(Folded.whole(nodes))
    assert all(isinstance(v["title"], str) and isinstance(v["label"], str) for v in vis_nodes)
    page = standalone_html(stored, nodes, [])
    data = page.split('<script type="application/json" id="data">')[1].split("</script>")[0]
    assert "<" not in data  # no model text can close the data block or open a tag
    for node in children:
        escaped = md(node.text)
        assert "<" not in escaped.replace("\\<", "")  # every "<" is escaped for Markdown
