"""Page script: explorer (see app/explorer.py)."""

from treelight.app.explorer import page

page()
