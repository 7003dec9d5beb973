"""Game of 24's prompts: few-shot proposals, whole answers, and the value prompt,
in the spirit of Tree of Thoughts (tot/prompts/game24.py). Text only; the rules
and the grammar are in tasks/game24.py.
"""

# Few-shot prompts in the spirit of Tree of Thoughts (tot/prompts/game24.py).
PROPOSE_PROMPT = """Input: 2 8 8 14
Possible next steps:
2 + 8 = 10 (left: 8 10 14)
8 / 2 = 4 (left: 4 8 14)
14 + 2 = 16 (left: 8 8 16)
2 * 8 = 16 (left: 8 14 16)
8 - 2 = 6 (left: 6 8 14)
14 - 8 = 6 (left: 2 6 8)
14 / 2 = 7 (left: 7 8 8)
14 - 2 = 12 (left: 8 8 12)
Input: {numbers}
{priors}Possible next steps:
"""

# Constrained proposals (Task.shape): the model names a move, the engine does the
# arithmetic and keeps the books, so the examples show moves only.
MOVES_PROMPT = """Use two of the numbers and one of + - * / for each possible next step.
Input: 2 8 8 14
Possible next steps:
2 + 8
8 / 2
14 + 2
2 * 8
8 - 2
14 - 8
14 / 2
14 - 2
Input: {numbers}
{priors}Possible next steps:
"""
MOVES_PER_OUTPUT = 8

VALUE_PROMPT = """Evaluate if given numbers can reach 24 (sure/likely/impossible)
10 14
10 + 14 = 24
sure
11 12
11 + 12 = 23
12 - 11 = 1
11 * 12 = 132
11 / 12 = 0.91
impossible
4 4 10
4 + 4 + 10 = 8 + 10 = 18
4 * 10 - 4 = 40 - 4 = 36
(10 - 4) * 4 = 6 * 4 = 24
sure
5 7 8
5 + 7 + 8 = 12 + 8 = 20
(8 - 5) * 7 = 3 * 7 = 21
I cannot obtain 24 now, but numbers are within a reasonable range
likely
10 10 11
10 + 10 + 11 = 31
(11 - 10) * 10 = 10
10 10 10 are all too big
impossible
1 3 3
1 * 3 * 3 = 9
(1 + 3) * 3 = 12
1 3 3 are all too small
impossible
{numbers}
"""

SOLUTION_PROMPT = """Use numbers and basic arithmetic operations (+ - * /) to obtain 24. \
Each step, you are only allowed to choose two of the remaining numbers to obtain a new number.
Input: 4 4 6 8
Steps:
4 + 8 = 12 (left: 4 6 12)
6 - 4 = 2 (left: 2 12)
2 * 12 = 24 (left: 24)
Answer: (6 - 4) * (4 + 8) = 24
Input: 2 9 10 12
Steps:
12 * 2 = 24 (left: 9 10 24)
10 - 9 = 1 (left: 1 24)
24 * 1 = 24 (left: 24)
Answer: (12 * 2) * (10 - 9) = 24
Input: {numbers}
{priors}Steps:
"""

# Input -> answer, no steps: the "IO" baseline of the Tree of Thoughts paper.
IO_PROMPT = """Use numbers and basic arithmetic operations (+ - * /) to obtain 24.
Input: 4 4 6 8
Answer: (4 + 8) * (6 - 4) = 24
Input: 2 9 10 12
Answer: 2 * 12 * (10 - 9) = 24
Input: 4 9 10 13
Answer: (13 - 9) * (10 - 4) = 24
Input: 1 4 8 8
Answer: (8 / 4 + 1) * 8 = 24
Input: 5 5 5 9
Answer: 5 + 5 + 5 + 9 = 24
Input: {numbers}
{priors}"""
