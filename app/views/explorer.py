"""Page script: explorer (see app/explorer.py)."""

from app.explorer import page

page()
