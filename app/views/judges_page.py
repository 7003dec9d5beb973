"""Page script: judges_page (see app/judges_page.py)."""

from treelight.app.judges_page import page

page()
