"""Widgets drawn from a role's typed options (engine/options.py).

The New run page knows no task, strategy or backend by name: it draws one
widget per declared option — a checkbox, a number box within the option's
bounds, a choice, a text field or text area — with the option's help, and
returns what the person changed from the defaults.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from treelight.engine.options import OptionInfo, Options, describe
from treelight.engine.tasks.base import TaskOptions

WIDE = 4  # options per row


def option_widgets(
    options: type[Options],
    key: str,
    start: dict[str, Any] | None = None,
    skip: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """One widget per option of `options`; returns the values that differ from the
    option's default. `start` gives other starting values (a preset's answer);
    `key` prefixes the widgets' keys, so each role keeps its own."""
    infos = [
        i for i in describe(options) if i.name not in skip and (only is None or i.name in only)
    ]
    # A task's own options first; those every task shares (max_tokens) after them.
    if issubclass(options, TaskOptions):
        infos.sort(key=lambda i: i.name in TaskOptions.model_fields)
    start = start or {}
    chosen: dict[str, Any] = {}
    # Numbers, switches and choices side by side; text gets a row of its own.
    short = [i for i in infos if i.kind != "text"]
    for row in range(0, len(short), WIDE):
        columns = st.columns(WIDE)
        for column, info in zip(columns, short[row : row + WIDE], strict=False):
            with column:
                value = widget(info, f"{key}_{info.name}", start.get(info.name, info.default))
            if value != info.default:
                chosen[info.name] = value
    for info in (i for i in infos if i.kind == "text"):
        value = widget(info, f"{key}_{info.name}", start.get(info.name, info.default))
        if value != info.default:
            chosen[info.name] = value
    return chosen


def widget(info: OptionInfo, key: str, value: Any) -> Any:
    """The widget for one option; returns its value (None for a blank optional one)."""
    label, help_text = info.label, info.help or None
    if info.kind == "bool":
        return st.checkbox(label, bool(value), key=key, help=help_text)
    if info.kind == "choice":
        index = info.choices.index(str(value)) if str(value) in info.choices else 0
        return st.selectbox(label, info.choices, index=index, key=key, help=help_text)
    if info.kind in ("int", "float"):
        return _number(info, key, value, help_text)
    text = "" if value is None else str(value)
    if info.multiline:
        entered = st.text_area(label, text, key=key, help=help_text, height=150)
    else:
        entered = st.text_input(
            label, text, key=key, help=help_text, placeholder=info.placeholder or None
        )
    return entered if entered.strip() or not info.optional else None


def _number(info: OptionInfo, key: str, value: Any, help_text: str | None) -> Any:
    cast = int if info.kind == "int" else float
    low: float | None = cast(info.minimum) if info.minimum is not None else None
    if low is not None and info.above:  # more than the minimum: the box starts just above
        low = low + 1 if cast is int else low + 0.001
    if info.optional:  # 0 stands for "not set": the role's own default
        low = cast(0)
        help_text = f"{help_text or ''} (0: the default)".strip()
    high = cast(info.maximum) if info.maximum is not None else None
    shown = cast(value) if value is not None else cast(0)
    if cast is int:
        number = st.number_input(info.label, low, high, shown, step=1, key=key, help=help_text)
        number = int(number)
    else:
        step = 0.05 if high is not None and high <= 1 else 0.1
        number = float(
            st.number_input(
                info.label, low, high, shown, step=step, format="%g", key=key, help=help_text
            )
        )
    if info.optional and number == 0:
        return None
    return number
