"""What the app and the exports draw, computed from stored rows.

Owns: colours and legend (`palette`), the best path (`best_path`), which nodes
are drawn and which folded (`folding`), the vis-network node and edge data
(`vis`), the standalone HTML page (`html_export`), the tree as text (`text`),
the tree as it stood after event k (`replay`), a guided replay's questions
(`guided_replay`) and two runs side by side (`compare`).

Does not own: Streamlit (the app draws these), model calls (none here), or any
decision of the search. Model text only ever leaves here as plain strings.
"""
