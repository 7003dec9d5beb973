"""Page script: new_run (see app/new_run.py)."""

from treelight.app.new_run import page

page()
