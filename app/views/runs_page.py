"""Page script: runs_page (see app/runs_page.py)."""

from treelight.app.runs_page import page

page()
