"""Languages → K groups from a similarity matrix, as the reference does it (ZNLP/DMoE `balanced_cluster_*`).

Both algorithms work on the cosine distance d = 1 − similarity and build balanced groups one at a time:
- exhaustive (18 languages in the paper): among the languages still free, take the group of the wanted size
  whose largest pairwise distance is smallest (every combination is tried); repeat.
- greedy (128 languages): seed a group with the closest free pair, then keep adding the free language whose
  largest distance to the group is smallest, until the group is full; repeat.

The reference needs n divisible by K; here the first n mod K groups get one language more. Ties go to the
earliest combination in input order, so the answer is deterministic.
"""

from __future__ import annotations

import itertools
import math

from labkit.errors import LabkitError

EXHAUSTIVE_LIMIT = 200_000  # combinations in the first round; beyond this the greedy algorithm is used


def group_sizes(n: int, k: int) -> list[int]:
    if k < 1 or k > n:
        raise LabkitError(f"groups = {k} does not fit {n} languages.", hint=f"Use 1 ≤ groups ≤ {n}.")
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _diameter(dist, members) -> float:
    return max((dist[a][b] for a, b in itertools.combinations(members, 2)), default=0.0)


def exhaustive(dist, k: int) -> list[list[int]]:
    free = list(range(len(dist)))
    groups = []
    for size in group_sizes(len(dist), k):
        best = min(itertools.combinations(free, size), key=lambda c: _diameter(dist, c))
        groups.append(list(best))
        free = [i for i in free if i not in best]
    return groups


def greedy(dist, k: int) -> list[list[int]]:
    free = list(range(len(dist)))
    groups = []
    for size in group_sizes(len(dist), k):
        if size == 1:
            group = [free[0]]
        else:
            group = list(min(itertools.combinations(free, 2), key=lambda p: dist[p[0]][p[1]]))
        while len(group) < size:
            group.append(min((i for i in free if i not in group), key=lambda i: max(dist[i][g] for g in group)))
        groups.append(group)
        free = [i for i in free if i not in group]
    return groups


def choose_algorithm(n: int, k: int) -> str:
    return "exhaustive" if math.comb(n, group_sizes(n, k)[0]) <= EXHAUSTIVE_LIMIT else "greedy"


def group_languages(
    similarity: dict[str, dict[str, float]], k: int, algorithm: str = "auto"
) -> tuple[list[list[str]], str]:
    """`similarity[a][b]` (cosine) → (groups of language codes, algorithm used)."""
    langs = list(similarity)
    dist = [[1.0 - float(similarity[a][b]) for b in langs] for a in langs]
    if algorithm == "auto":
        algorithm = choose_algorithm(len(langs), k)
    algorithms = {"exhaustive": exhaustive, "greedy": greedy}
    if algorithm not in algorithms:
        raise LabkitError(f"Unknown grouping algorithm {algorithm!r}.", hint="auto, exhaustive or greedy.")
    return [[langs[i] for i in g] for g in algorithms[algorithm](dist, k)], algorithm
