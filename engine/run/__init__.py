"""Carrying out a search: the loop (`loop.Runner`) and the rooms it works through.

Owns: a run's state while a runner holds it (`state`), making a run (`creation`),
asking for candidates (`expansion`), judging them (`judging`), the changes a node
goes through (`node_changes`: prunes, restores, the MCTS backup), coming to rest
(`resting`), a person's queued model work (`queued_work`: re-runs, re-scoring),
every model call (`model_calls`), the tree as strategies see it (`tree_cache`)
and the background worker (`worker`).

Does not own: what to do next (the strategy decides, from the tree alone), what a
person asks for (`engine/steering/` writes requests; the loop applies them between
two actions), or how anything is drawn (`engine/views/`).
"""
