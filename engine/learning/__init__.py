"""Judges learned from the search's own trees: `treelight train judge`.

Owns: labelling the states a set of stored trees settled (`labels`: live when a
checked solution lies below, dead when every move the task allows was tried and
failed, a person's label over both), turning states into numbers (`features`:
the task's own features, the model's embedding of the state's text), fitting
small scikit-learn models and keeping the best on held-out problems (`fitting`),
and the command (`training`, `cli`).

Does not own: the judge file's format and the `learned` judge that reads it
(engine/judges/learned.py and learned_file.py: a role, loaded without any of
this), or the search that made the trees (`engine/run/`, `treelight eval`).
"""
