"""Untrusted text on the page.

Model output, and anything that may quote it (reasons, error messages from a
server), is shown with `st.text` / `st.code`, which never interpret markup.
Where such text must sit inside Markdown (a caption, a status line), `md`
escapes it first: every ASCII punctuation character gets a backslash, which
CommonMark defines as "show this character literally" — so no link, image,
emphasis or HTML survives.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def md(text: object) -> str:
    """`text` as Markdown that shows exactly these characters."""
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", flat)
