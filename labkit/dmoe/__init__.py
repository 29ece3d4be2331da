"""Group-then-Scale dynamic MoE (METHODS.md §4; paper arXiv 2506.12388, reference code ZNLP/DMoE).

- analysis.py  per-language short fine-tunes → per-layer parameter deviation, MoE layers (ε), language similarity
- grouping.py  languages → K groups: the reference's exhaustive search (small sets) and greedy algorithm (large)
- upcycle.py   dense Qwen2 → transformers Qwen2MoE with one FFN copy per group; add an expert for a new language
- routing.py   forced (group) routing, router losses, per-expert perplexity, routing statistics
- train.py     the `dmoe-stage1` / `dmoe-stage2` training methods (job pipelines) and new-language adaptation
"""

import warnings

# Upcycled models have a zero-width shared expert (upcycle.py); torch warns each time one is built or loaded.
warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")

from labkit.dmoe import train as _train  # noqa: E402,F401  registers dmoe-stage1/2 with the training methods
