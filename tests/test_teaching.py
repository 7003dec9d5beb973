"""Teaching: the guided replay's questions, and the flow a class goes through."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import game24_search, new_app
from treelight.app.safe import md
from treelight.engine.views.guided_replay import questions
from treelight.engine.views.replay import tree_at
from treelight.storage import queries


def finished_bfs(engine: Engine) -> int:
    return game24_search(engine, status="running", beam=2)


def test_each_question_is_a_real_decision_with_the_engines_pick_among_the_choices(
    engine: Engine,
) -> None:
    run_id = finished_bfs(engine)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
    asked = questions(nodes, events)
    kinds = {q.kind for q in asked}
    assert kinds == {"expand", "prune"}  # a beam of 2 expands and cuts
    for question in asked:
        event = events[question.event_index]
        assert (event.kind, event.node_id) == (question.kind, question.answer)
        assert event.reason in question.reason
        assert len(question.choices) >= 2 and question.answer in question.choices
        before = {n.id: n for n in tree_at(nodes, events, question.event_index - 1)}
        after = {n.id: n for n in tree_at(nodes, events, question.event_index)}
        # The choices were all still possible before the decision; it changed the answer's node.
        for choice in question.choices:
            assert before[choice].status in ("open", "expanded")
        expected = "expanded" if question.kind == "expand" else "pruned"
        assert after[question.answer].status == expected
        assert event.details.get("by") != "duplicate"


def test_a_class_predicts_reveals_and_moves_on(app_engine: Engine) -> None:
    run_id = finished_bfs(app_engine)
    at = new_app()
    at.query_params["run"] = str(run_id)
    at.run()
    at.switch_page("views/runs_page.py").run()
    at.toggle(key=f"guided_{run_id}").set_value(True).run()
    assert not at.exception
    assert any("Decision 1 of" in m.value for m in at.markdown)
    options = at.radio(key=f"guide_{run_id}_choice_0").options
    assert options
    with Session(app_engine) as session:  # model text in a radio label is escaped Markdown
        texts = {n.id: n.text for n in queries.run_nodes(session, run_id)}
    for option in options:
        number, _, shown = option.partition(" · ")
        assert shown == md(texts[int(number.lstrip("#"))][:60])
    at.button(key=f"guide_{run_id}_reveal").click().run()
    assert not at.exception
    [shown] = [s.value for s in at.success]
    assert "the search picked #" in shown and "Why:" in shown
    assert any("of 1" in m.value for m in at.markdown)  # one decision predicted so far
    at.button(key=f"guide_{run_id}_next").click().run()
    assert any("Decision 2 of" in m.value for m in at.markdown)
    assert not at.success


def test_presentation_view_makes_the_tree_full_width(app_engine: Engine) -> None:
    run_id = finished_bfs(app_engine)
    at = new_app()
    at.query_params["run"] = str(run_id)
    at.run()
    at.toggle(key="present_switch").set_value(True).run()
    assert at.session_state["present"] is True  # outlives the switch, for every page
    assert not at.exception
    assert at.toggle(key="present_inspector").value is False
    assert not [h for h in at.markdown if h.value.startswith("#### Node #")]  # no inspector
    at.toggle(key="present_inspector").set_value(True).run()
    assert not at.exception
    assert [h for h in at.markdown if h.value.startswith("#### Node #")]


def test_an_instructors_note_is_kept_and_shown_in_replay_and_the_html_export(
    app_engine: Engine,
) -> None:
    from treelight.engine import steering
    from treelight.engine.api import open_run
    from treelight.engine.errors import BadArguments
    from treelight.engine.views.folding import Folded
    from treelight.engine.views.vis import vis_elements

    run_id = finished_bfs(app_engine)
    with Session(app_engine) as session:
        nodes = queries.run_nodes(session, run_id)
    target = next(n.id or 0 for n in nodes if n.status == "expanded" and n.parent_id)
    handle = open_run(run_id, engine=app_engine)
    handle.note(target, "watch the <b>value</b> judge here")
    for bad, message in (("  ", "needs some text"), ("x" * 1001, "at most 1000")):
        with pytest.raises(BadArguments, match=message):
            steering.add_note(app_engine, run_id, target, bad)
    with Session(app_engine) as session:
        [note] = queries.run_notes(session, run_id)
        events = queries.run_events(session, run_id)
    assert (note.node_id, note.actor) == (target, "person")

    drawn, _ = vis_elements(Folded.whole(nodes), task="game24", notes=[note])
    node = next(n for n in drawn if n["id"] == target)
    assert "note (1)" in node["label"] and "note: watch the <b>value</b>" in node["title"]
    page = handle.export("html")
    assert "watch the \\u003cb\\u003evalue" in page  # as data, never markup

    at = new_app()
    at.query_params["run"] = str(run_id)
    at.run()
    at.switch_page("views/runs_page.py").run()
    at.selectbox(key="replay_run").set_value(run_id)
    at.slider(key=f"replay_step_{run_id}").set_value(len(events)).run()
    assert not at.exception
    assert f"Note on #{target}: watch the <b>value</b> judge here" in [t.value for t in at.text]


def test_any_choice_the_engine_could_have_made_counts_and_the_reveal_says_why(
    engine: Engine,
) -> None:
    """A beam cuts several candidates in one step: naming any of them is right. A
    pinned node expanded first: the reveal says it was pinned. A tie: the reveal
    names the tie rule and counts the tied nodes."""
    from treelight.engine import steering
    from treelight.engine.run.loop import Runner

    run_id = game24_search(engine, status="paused", beam=1, max_calls=30)
    runner = Runner(engine, run_id)
    runner.step()  # expand the problem
    with Session(engine) as session:
        kids = [n for n in queries.run_nodes(session, run_id) if n.parent_id and n.status == "open"]
    steering.pin(engine, run_id, kids[-1].id or 0)  # a person pins one
    steering.add_prior(engine, run_id, kids[-1].id or 0, "try this one")
    steering.resume(engine, run_id)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
        priors = queries.run_priors(session, run_id)
    asked = questions(nodes, events, priors)
    cuts = [q for q in asked if q.kind == "prune" and q.accepted]
    assert cuts, "a beam of 1 cuts more than one candidate in one step"
    for question in cuts:
        assert all(question.is_right(other) for other in question.accepted)
        assert question.answer not in question.accepted
        later = [
            events[question.event_index + 1 + i].node_id for i in range(len(question.accepted))
        ]
        assert list(question.accepted) == later  # exactly the step's other cuts
    for question in cuts:  # a candidate kept in that step is not right
        kept = set(question.choices) - {question.answer, *question.accepted}
        assert kept and not any(question.is_right(node) for node in kept)
    assert any("which a person pinned" in q.reason for q in cuts)  # the cut names the pin

    # A beam of 2 keeps two; the pinned one is expanded first, and the reveal says why.
    run_id = game24_search(engine, status="paused", beam=2, max_calls=30)
    Runner(engine, run_id).step()
    with Session(engine) as session:
        kids = [n for n in queries.run_nodes(session, run_id) if n.parent_id and n.status == "open"]
    steering.pin(engine, run_id, kids[-1].id or 0)
    steering.add_prior(engine, run_id, kids[-1].id or 0, "try this one")
    steering.resume(engine, run_id)
    Runner(engine, run_id).run_until_idle()
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
        events = queries.run_events(session, run_id)
        priors = queries.run_priors(session, run_id)
    pinned = [q for q in questions(nodes, events, priors) if q.kind == "expand"]
    assert pinned and pinned[0].answer == kids[-1].id
    assert "pinned by a person" in pinned[0].reason
    assert "a person's prior" in pinned[0].reason and "try this one" in pinned[0].reason


def test_a_note_shows_at_the_event_that_drew_its_node(engine: Engine) -> None:
    from treelight.engine import steering
    from treelight.engine.views.replay import notes_at

    run_id = finished_bfs(engine)
    with Session(engine) as session:
        nodes = queries.run_nodes(session, run_id)
    deep = max(nodes, key=lambda n: n.depth)
    steering.add_note(engine, run_id, deep.id or 0, "look here")  # written after the run
    with Session(engine) as session:
        events = queries.run_events(session, run_id)
    notes = [e for e in events if e.kind == "note"]
    born = next(
        i for i in range(len(events)) if deep.id in {n.id for n in tree_at(nodes, events, i)}
    )
    assert notes_at(notes, tree_at(nodes, events, born - 1), events, born - 1) == []
    assert notes_at(notes, tree_at(nodes, events, born), events, born) == notes


def test_the_replay_of_a_run_with_one_event_opens(app_engine: Engine) -> None:
    """A run just made has one event (its creation): the replay shows it, without a
    slider that would need two ends (it used to fail the whole Runs page)."""
    game24_search(app_engine, status="queued")
    at = new_app().run()
    at.switch_page("views/runs_page.py").run()
    assert not at.exception, at.exception
