"""The New run page's generator choice, drawn from the installed backends.

Each backend's options become widgets (app/option_widgets.py). A backend with
a model catalog (engine/generators/base.py: ModelCatalog — Ollama's server)
gets a model list and a panel to pull more; the others a text field.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from treelight.app.option_widgets import option_widgets
from treelight.app.safe import md
from treelight.engine.errors import TreelightError
from treelight.engine.generators import generator_classes
from treelight.engine.generators.base import ModelCatalog


@st.cache_data(ttl=10, show_spinner=False)
def catalog(backend: str, options_json: str) -> tuple[list[dict[str, Any]], str | None]:
    found = generator_classes()[backend]
    assert isinstance(found, ModelCatalog)
    try:
        return found.catalog(json.loads(options_json)), None
    except TreelightError as error:
        return [], str(error)


def generator_choice() -> tuple[str, dict[str, Any]]:
    """The chosen backend and the options the person set for it."""
    classes = generator_classes()
    backend = st.radio(
        "Generator",
        list(classes),
        horizontal=True,
        key="backend",
        format_func=lambda name: classes[name].label or name,
    )
    chosen = classes[backend]
    key = f"backend_{backend}"
    if not isinstance(chosen, ModelCatalog):
        return backend, option_widgets(chosen.Options, key)
    values = option_widgets(chosen.Options, key, skip=("model",))
    options_json = json.dumps(values, sort_keys=True)
    models, error = catalog(backend, options_json)
    if error:
        st.warning(md(error))
        name = st.text_input("Model name", "llama3.2", key=f"{key}_model_name")
    else:
        if not models:
            st.info("This server has no models yet: pull one below.")
        name = st.selectbox(
            "Model",
            [m["name"] for m in models],
            key=f"{key}_model",
            format_func=lambda n: describe_model(next(m for m in models if m["name"] == n)),
        )
        pull_panel(backend, chosen, values)
    return backend, {**values, **({"model": name} if name else {})}


def pull_panel(backend: str, chosen: ModelCatalog, values: dict[str, Any]) -> None:
    """Pull a model onto the server, with a progress bar."""
    with st.expander("Pull a model onto this server"):
        wanted = st.text_input(
            "Model to pull",
            "llama3.2:1b",
            key=f"backend_{backend}_pull_name",
            help="Any name from the server's library, e.g. qwen2.5:1.5b",
        )
        if not st.button("Pull", key=f"backend_{backend}_pull"):
            return
        bar = st.progress(0.0, text=md(f"pulling {wanted} …"))
        try:
            for progress in chosen.pull(wanted, values):
                total, done = progress.get("total"), progress.get("completed") or 0
                fraction = min(1.0, done / total) if total else 0.0
                bar.progress(fraction, text=md(f"{wanted}: {progress.get('status')}"))
        except TreelightError as error:
            st.error(md(error))
            return
        bar.progress(1.0, text=md(f"{wanted}: pulled"))
        catalog.clear()
        st.success(md(f"Pulled {wanted}: pick it in the Model list."))


def describe_model(model: dict[str, Any]) -> str:
    size = f"{model['size'] / 1e9:.1f} GB" if model.get("size") else ""
    extras = " · ".join(
        str(x)
        for x in (model.get("parameters"), model.get("family"), model.get("quantization"), size)
        if x
    )
    return f"{model['name']} ({extras})" if extras else model["name"]
