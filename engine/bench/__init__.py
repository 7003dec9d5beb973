"""`treelight bench`: figures, not tests. Each benchmark prints a table, or one
JSON object with `--json`, and compares side by side in one run (ratios),
because these machines are noisy."""
