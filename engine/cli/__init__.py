"""The `treelight` command line: `main` (`entry.py`) parses (`parser.py`) and
dispatches to what each command does (`handlers.py`); the
role flags come from the plugin registry (`roles.py`), and `app_script.py`
finds the explorer's entry script without importing the app.

Does not own: `treelight eval` and `treelight bench` (their own `cli.py` in
`engine/evals/` and `engine/bench/`), or anything a command does (the rooms).
"""

from treelight.engine.cli.entry import main

__all__ = ["main"]
