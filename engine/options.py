"""Typed, self-describing options for every role (task, strategy, judge, backend).

A role declares its options as a pydantic model: types, defaults, bounds and a
one-line help each. From that one declaration come the validation (a bad value
gets a message naming the option and what it accepts), the CLI's flags and the
New run page's widgets. This module knows nothing of argparse or Streamlit: it
only describes the options, and the CLI and the app draw them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from treelight.engine.errors import BadArguments

__all__ = ["Field", "OptionInfo", "Options", "describe", "parse_value", "validate"]


class Options(BaseModel):
    """The base of every role's options: unknown names are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class OptionInfo:
    """One option as a CLI flag or a page widget needs it."""

    name: str
    kind: str  # "bool", "int", "float", "text", "choice"
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False  # more than `minimum`, not equal to it
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is allowed (and usually means "the default")
    multiline: bool = False  # a long text (the app draws a text area)
    from_file: bool = False  # the CLI flag takes a file and stores its text
    flag: str | None = None  # a dedicated CLI flag, e.g. "--answer"
    placeholder: str = ""  # what a blank text field means, e.g. the default host

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def accepts(self) -> str:
        """What this option accepts, in words."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        words = {"int": "a whole number", "float": "a number", "text": "text"}[self.kind]
        low = ""
        if self.minimum is not None:
            low = (
                f"more than {_number(self.minimum)}"
                if self.above
                else f"at least {_number(self.minimum)}"
            )
        if self.minimum is not None and self.maximum is not None and not self.above:
            words += f" from {_number(self.minimum)} to {_number(self.maximum)}"
        elif self.minimum is not None and self.maximum is not None:
            words += f" {low} and at most {_number(self.maximum)}"
        elif self.minimum is not None:
            words += f" {'' if self.above else 'of '}{low}"
        elif self.maximum is not None:
            words += f" of at most {_number(self.maximum)}"
        return words + (" (or empty)" if self.optional else "")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def describe(options: type[Options]) -> list[OptionInfo]:
    infos = []
    for name, field in options.model_fields.items():
        annotation = field.annotation
        optional = False
        if type(None) in get_args(annotation):
            optional = True
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        choices: tuple[str, ...] = ()
        if get_origin(annotation) is Literal:
            kind, choices = "choice", tuple(str(c) for c in get_args(annotation))
        else:
            kind = {bool: "bool", int: "int", float: "float"}.get(annotation, "text")  # type: ignore[arg-type]
        minimum = maximum = None
        above = False  # the minimum itself is not allowed (gt)
        for rule in field.metadata:
            if getattr(rule, "gt", None) is not None:
                minimum, above = rule.gt, True
            minimum = getattr(rule, "ge", minimum)
            maximum = getattr(rule, "le", getattr(rule, "lt", maximum))
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        infos.append(
            OptionInfo(
                name=name,
                kind=kind,
                default=field.default,
                help=field.description or "",
                minimum=minimum,
                maximum=maximum,
                above=above,
                choices=choices,
                optional=optional,
                multiline=bool(extra.get("multiline")),
                from_file=bool(extra.get("from_file")),
                flag=str(extra["flag"]) if extra.get("flag") else None,
                placeholder=str(extra.get("placeholder", "")),
            )
        )
    return infos


def validate(options: type[Options], values: dict[str, Any], owner: str) -> Options:
    """`values` checked against `options`; `owner` names the role in messages
    (e.g. "task 'math'"). Raises BadArguments naming the option and what it takes."""
    try:
        return options.model_validate(values)
    except ValidationError as error:
        infos = {info.name: info for info in describe(options)}
        problems = []
        for issue in error.errors():
            name = str(issue["loc"][0]) if issue["loc"] else "?"
            if issue["type"] == "extra_forbidden":
                known = ", ".join(infos) or "none"
                problems.append(f"{owner} has no option {name!r} (it takes: {known})")
            elif name in infos:
                given = values.get(name)
                problems.append(
                    f"{owner} option {name!r} takes {infos[name].accepts()}, not {given!r}"
                )
            else:
                problems.append(f"{owner}: {issue['msg']}")
        raise BadArguments("; ".join(problems) + ".") from None


def parse_value(text: str) -> Any:
    """A value typed on a command line: JSON when it reads as JSON (3, 0.5, true),
    else the text itself (pydantic then checks it against the option's type)."""
    try:
        return json.loads(text)
    except ValueError:
        return text
