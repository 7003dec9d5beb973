"""The New run page: a preset or a free problem, a strategy, a generator, judges, a budget."""

from __future__ import annotations

import json
from importlib.resources import files

import streamlit as st

from treelight.app.generator_panel import generator_choice
from treelight.app.option_widgets import option_widgets
from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.engine.errors import TreelightError
from treelight.engine.generators import prepare_generator
from treelight.engine.judges import judges_for, parse_judge_specs
from treelight.engine.run.creation import RunSettings, check_run, store_run
from treelight.engine.strategies import strategy_classes
from treelight.engine.strategies.base import LOOP_RULES, StrategyOptions
from treelight.engine.tasks import task_classes

PRESETS: list[dict[str, str]] = json.loads(
    files("treelight.assets").joinpath("presets.json").read_text("utf-8")
)


def page() -> None:
    st.title("New run")
    preset = st.selectbox("Preset", [p["name"] for p in PRESETS], index=2, key="preset")
    chosen = next(p for p in PRESETS if p["name"] == preset)
    left, right = st.columns(2, gap="large")
    with left:
        tasks, strategies = task_classes(), strategy_classes()
        task = st.selectbox(
            "Task",
            sorted(tasks),
            index=sorted(tasks).index(chosen["task"]) if chosen["task"] in tasks else 0,
            key=f"task_{preset}",
            help="; ".join(f"{t.name}: {t.description}" for t in tasks.values()),
        )
        problem = st.text_area("Problem", chosen["problem"], key=f"problem_{preset}", height=80)
        task_params = option_widgets(tasks[task].Options, f"task_{task}_{preset}", start=chosen)
        strategy = st.selectbox(
            "Strategy",
            list(strategies),
            key="strategy",
            format_func=lambda s: f"{s} — {strategies[s].summary}",
        )
        st.caption(strategies[strategy].explanation)  # code, not model text: Markdown is fine
        params = option_widgets(strategies[strategy].Options, f"param_{strategy}", skip=LOOP_RULES)
        with st.expander("Loop rules (any strategy)"):
            params.update(option_widgets(StrategyOptions, "loop", only=LOOP_RULES))
    with right:
        backend, backend_options = generator_choice()
        judge_kinds = judges_for(task)  # only the judges that can judge this task
        preset_judges = parse_judge_specs(chosen.get("judges", ""))
        default_judges = [s["name"] for s in preset_judges] or [
            n for n in tasks[task].default_judges if n in judge_kinds
        ]
        judges = st.multiselect(
            "Judges",
            sorted(judge_kinds),
            default=default_judges,
            key=f"judges_{task}_{preset}",
            help="; ".join(f"{n}: {j.description}" for n, j in judge_kinds.items()),
        )
        preset_options = ",".join(
            f"{s['name']}:" + ";".join(f"{k}={v}" for k, v in s.items() if k != "name")
            for s in preset_judges
            if len(s) > 1
        )
        options = st.text_input(
            "Judge options",
            preset_options,
            key=f"judge_options_{preset}",
            placeholder="e.g. value:samples=5;weight=2",
        )
        budget = budget_inputs()
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
        temperature = st.slider("Temperature", 0.0, 2.0, 0.7, 0.1, key="temperature")

    if st.button("Start the search", type="primary", key="start"):
        specs = [{"name": n} for n in judges]
        try:
            generator = prepare_generator(backend, backend_options, temperature)
            for extra in parse_judge_specs(options):
                specs = [s if s["name"] != extra["name"] else extra for s in specs]
            settings = RunSettings(
                task=task,
                problem=problem,
                strategy=strategy,
                strategy_params=params,
                task_params=task_params,
                generator=generator,
                judges=specs,
                seed=int(seed),
                budget=budget,
            )
            run = store_run(get_engine(), check_run(settings))
        except TreelightError as error:
            st.error(md(error))
            return
        st.session_state.pop("selected_node", None)
        from treelight.app.pages import explorer_page

        st.switch_page(explorer_page(), query_params={"run": str(run.id)})


# key, label, default, largest, step, limited by default. Only model calls are
# limited by default: a newcomer's first run must not end on a clock they never set
# (a first embedded run on the easy preset once stopped at 311 s of 300).
BUDGET_FIELDS = (
    ("max_calls", "Model calls", 60, 100_000, 1, True),
    ("max_tokens", "Tokens", 20_000, 10_000_000, 1000, False),
    ("max_seconds", "Seconds", 600, 86_400, 10, False),
    ("max_nodes", "Nodes", 200, 100_000, 10, False),
)


def budget_inputs() -> dict[str, int | None]:
    """Each limit is a number of at least 1, or none at all, ticked on purpose: a run
    with no limit at all is never started by a field left at 0."""
    st.markdown("**Budget**")
    st.caption(
        "A run ends when its strategy does (an answer passed its checks, or nothing is "
        "left to try) or at the first limit ticked here; you can pause or stop it any time."
    )
    budget: dict[str, int | None] = {}
    for column, (key, label, default, largest, step, limited) in zip(
        st.columns(2) * 2, BUDGET_FIELDS, strict=True
    ):
        unlimited = column.checkbox(
            f"No limit on {label.lower()}", value=not limited, key=f"{key}_unlimited"
        )
        value = column.number_input(
            label, 1, largest, default, step=step, key=key, disabled=unlimited
        )
        budget[key] = None if unlimited else int(value)
    if all(v is None for v in budget.values()):
        st.warning("No limit at all: this search runs until its strategy ends it.")
    return budget
