"""Treelight storage: SQLModel tables, database setup, migrations, queries, export.

Imports nothing from engine/ or app/: it stores a search tree, it does not run one.
"""
