"""Treelight engine: tasks, generators, judges, strategies, the runner and the worker.

It owns the control flow of a search and writes every step to storage. It never
imports streamlit: the app drives it through storage and `engine.commands`.
"""
