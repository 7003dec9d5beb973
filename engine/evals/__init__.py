"""Methods over datasets: `treelight eval`.

Owns: reading datasets (`datasets`: JSONL, CSV, built-in sets), the methods an
eval compares (`methods`: presets and any installed strategy), the eval itself
(`eval_runs`: one ordinary stored run per item and method, queued for workers,
scored against the dataset's answers) and its command line (`cli`).

Does not own: the search inside each run (`engine/run/`) or the benchmarks that
time the engine (`engine/bench/`).
"""
