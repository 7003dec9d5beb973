"""The New run page: a preset or a free problem, a strategy, a generator, judges, a budget."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import streamlit as st

from treelight.app.safe import md
from treelight.app.services import get_engine
from treelight.engine.errors import BadArguments, TreelightError
from treelight.engine.generators.ollama_backend import list_models, ollama_host, pull_model
from treelight.engine.judges import JUDGES, parse_judge_specs
from treelight.engine.runner import create_run
from treelight.engine.strategies import STRATEGIES
from treelight.engine.strategies.base import LOOP_DEFAULTS, LOOP_HELP
from treelight.engine.tasks import TASKS

PRESETS: list[dict[str, str]] = json.loads(
    files("treelight.assets").joinpath("presets.json").read_text("utf-8")
)


@st.cache_data(ttl=10, show_spinner=False)
def ollama_models(host: str) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return list_models(host), None
    except TreelightError as error:
        return [], str(error)


def page() -> None:
    st.title("New run")
    preset = st.selectbox("Preset", [p["name"] for p in PRESETS], index=2, key="preset")
    chosen = next(p for p in PRESETS if p["name"] == preset)
    left, right = st.columns(2, gap="large")
    with left:
        task = st.selectbox(
            "Task",
            sorted(TASKS),
            index=sorted(TASKS).index(chosen["task"]),
            key=f"task_{preset}",
            help="; ".join(f"{t.name}: {t.description}" for t in TASKS.values()),
        )
        problem = st.text_area("Problem", chosen["problem"], key=f"problem_{preset}", height=80)
        task_params = task_inputs(task, chosen, preset)
        strategy = st.selectbox(
            "Strategy",
            list(STRATEGIES),
            key="strategy",
            format_func=lambda s: f"{s} — {STRATEGIES[s].summary}",
        )
        st.caption(STRATEGIES[strategy].explanation)  # our own text: Markdown is fine
        params = strategy_params(strategy)
        params.update(loop_rules())
    with right:
        generator = generator_choice()
        default_judges = list(TASKS[task].default_judges)
        judges = st.multiselect(
            "Judges",
            sorted(JUDGES),
            default=default_judges,
            key=f"judges_{task}",
            help="; ".join(f"{n}: {j.description}" for n, j in JUDGES.items()),
        )
        options = st.text_input(
            "Judge options", "", key="judge_options", placeholder="e.g. value:samples=5;weight=2"
        )
        budget = budget_inputs()
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
        temperature = st.slider("Temperature", 0.0, 2.0, 0.7, 0.1, key="temperature")

    if st.button("Start the search", type="primary", key="start"):
        specs = [{"name": n} for n in judges]
        try:
            if generator["backend"] == "scripted":
                generator = scripted_spec(generator)
            for extra in parse_judge_specs(options):
                specs = [s if s["name"] != extra["name"] else extra for s in specs]
            run = create_run(
                get_engine(),
                task=task,
                problem=problem,
                strategy=strategy,
                strategy_params=params,
                task_params=task_params,
                generator={**generator, "temperature": temperature},
                judges=specs,
                seed=int(seed),
                budget=budget,
            )
        except TreelightError as error:
            st.error(md(error))
            return
        st.session_state.pop("selected_node", None)
        from treelight.app.pages import explorer_page

        st.switch_page(explorer_page(), query_params={"run": str(run.id)})


BACKEND_LABELS = {
    "embedded": "Embedded (SmolLM2-135M, no server)",
    "ollama": "Ollama server",
    "scripted": "Scripted (replay outputs)",
}


# key, label, default, largest, step, limited by default
BUDGET_FIELDS = (
    ("max_calls", "Model calls", 60, 100_000, 1, True),
    ("max_tokens", "Tokens", 20_000, 10_000_000, 1000, False),
    ("max_seconds", "Seconds", 300, 86_400, 10, True),
    ("max_nodes", "Nodes", 200, 100_000, 10, False),
)


def budget_inputs() -> dict[str, int | None]:
    """Each limit is a number of at least 1, or none at all, ticked on purpose: a run
    with no limit at all is never started by a field left at 0."""
    st.markdown("**Budget**")
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


def strategy_params(strategy: str) -> dict[str, Any]:
    defaults = STRATEGIES[strategy].defaults
    params: dict[str, Any] = {}
    columns = st.columns(max(1, len(defaults)))
    for column, (name, default) in zip(columns, defaults.items(), strict=False):
        key = f"param_{strategy}_{name}"
        if isinstance(default, bool):
            params[name] = column.checkbox(name, default, key=key)
        elif isinstance(default, float):
            params[name] = column.number_input(name, value=default, format="%.3f", key=key)
        elif default is None:  # "the task's default"
            value = column.number_input(name, 0, 20, 0, key=key, help="0: the task's default")
            if value:
                params[name] = int(value)
        else:
            params[name] = int(column.number_input(name, 1, 1000, int(default), key=key))
    return params


def task_inputs(task: str, preset: dict[str, str], preset_name: str) -> dict[str, Any]:
    """The task's own settings: the expected answer (math), the tests (code)."""
    params: dict[str, Any] = {}
    if task == "math":
        answer = st.text_input(
            "Expected answer (optional: the checker compares numbers exactly)",
            preset.get("answer", ""),
            key=f"answer_{preset_name}",
            placeholder="e.g. 17",
        )
        if answer.strip():
            params["answer"] = answer.strip()
    elif task == "code":
        params["tests"] = st.text_area(
            "Tests the code must pass (plain asserts or pytest-style test_* functions)",
            preset.get("tests", ""),
            key=f"tests_{preset_name}",
            height=150,
            placeholder="assert add(1, 2) == 3",
        )
    return params


def loop_rules() -> dict[str, Any]:
    """Loop rules any strategy takes; only the ones changed from their defaults."""
    chosen: dict[str, Any] = {}
    with st.expander("Loop rules (any strategy)"):
        columns = st.columns(len(LOOP_DEFAULTS))
        for column, (name, default) in zip(columns, LOOP_DEFAULTS.items(), strict=True):
            if isinstance(default, float):
                value: Any = column.number_input(
                    name, 0.0, 1.0, default, 0.05, key=f"loop_{name}", help=LOOP_HELP[name]
                )
            else:
                value = int(
                    column.number_input(
                        name, 0, 100, default, key=f"loop_{name}", help=LOOP_HELP[name]
                    )
                )
            if value != default:
                chosen[name] = value
    return chosen


def generator_choice() -> dict[str, Any]:
    backend = st.radio(
        "Generator",
        list(BACKEND_LABELS),
        horizontal=True,
        key="backend",
        format_func=BACKEND_LABELS.__getitem__,
    )
    if backend == "scripted":
        path = st.text_input(
            "Script: a JSON file with a list of model outputs, used in order", key="script_path"
        )
        delay = st.number_input(
            "Seconds per call (to watch it grow)", 0.0, 10.0, 0.0, 0.1, key="script_delay"
        )
        return {"backend": "scripted", "script": path, "delay": delay}
    if backend == "embedded":
        path = st.text_input(
            "GGUF file (blank: the built-in SmolLM2-135M-Instruct)", key="gguf_path"
        )
        return {"backend": "embedded", **({"model": path} if path else {})}
    host = st.text_input("Ollama host", ollama_host(), key="ollama_host")
    models, error = ollama_models(host)
    if error:
        st.warning(md(error))
        name = st.text_input("Model name", "llama3.2", key="ollama_model_name")
    else:
        if not models:
            st.info("This Ollama server has no models yet: pull one below.")
        name = st.selectbox(
            "Model",
            [m["name"] for m in models],
            key="ollama_model",
            format_func=lambda n: _describe(next(m for m in models if m["name"] == n)),
        )
        pull_panel(host)
    return {"backend": "ollama", "model": name, "host": host}


def pull_panel(host: str) -> None:
    """Pull a model onto the server, with a progress bar."""
    with st.expander("Pull a model onto this server"):
        wanted = st.text_input(
            "Model to pull",
            "llama3.2:1b",
            key="pull_name",
            help="Any name from the Ollama library, e.g. qwen2.5:1.5b",
        )
        if not st.button("Pull", key="pull"):
            return
        bar = st.progress(0.0, text=f"pulling {wanted} …")
        try:
            for progress in pull_model(wanted, host):
                total, done = progress.get("total"), progress.get("completed") or 0
                fraction = min(1.0, done / total) if total else 0.0
                bar.progress(fraction, text=md(f"{wanted}: {progress.get('status')}"))
        except TreelightError as error:
            st.error(md(error))
            return
        bar.progress(1.0, text=md(f"{wanted}: pulled"))
        ollama_models.clear()
        st.success(md(f"Pulled {wanted}: pick it in the Model list."))


def scripted_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The outputs go into the run itself, so it replays without the file."""
    from treelight.engine.generators.scripted import ScriptedGenerator

    if not spec.get("script"):
        raise BadArguments("The scripted generator needs the path of a JSON file of outputs.")
    outputs = ScriptedGenerator.from_file(spec["script"]).outputs
    return {
        "backend": "scripted",
        "model": Path(spec["script"]).name,
        "outputs": outputs,
        "delay": spec.get("delay", 0.0),
    }


def _describe(model: dict[str, Any]) -> str:
    size = f"{model['size'] / 1e9:.1f} GB" if model.get("size") else ""
    extras = " · ".join(
        str(x)
        for x in (model.get("parameters"), model.get("family"), model.get("quantization"), size)
        if x
    )
    return f"{model['name']} ({extras})" if extras else model["name"]
