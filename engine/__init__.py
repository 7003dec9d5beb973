"""Treelight engine: it owns the control flow of a search and writes every step
to storage. It never imports streamlit: the app drives it through storage and
`engine.steering`.

The modules at this root are the public surface a script or a plugin imports:
`api` (Treelight from Python), `errors`, `types` (the values passed between
roles), `options` (typed role options), `hookspecs` and `plugins` (the one door
every role comes in through). Everything else lives in a room by purpose:

- the roles: `tasks/`, `generators/`, `judges/`, `strategies/` — each a small
  protocol (`base.py`) and its implementations; roles never touch storage;
- `run/`: the loop that carries a search, and its rooms (state, creation,
  expansion, judging, node changes, resting, queued work, model calls, the tree
  cache, the worker);
- `steering/`: what a person does to a run (pause, stop, prune, pin, prior, ...);
- `evals/`: datasets, methods and `treelight eval` over them;
- `views/`: what the app and the exports draw (palette, folding, vis-network
  data, the HTML export, text, replay, guided replay, compare);
- `bench/`: `treelight bench`, the benchmarks;
- `cli/`: the `treelight` command line.
"""
