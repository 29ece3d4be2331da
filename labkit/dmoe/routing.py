"""Routing control for transformers' Qwen2MoE (no custom modelling code): forward hooks on every router.

- forced routing: each sequence's tokens go to one expert (its language group's) with weight 1 — stage 1 and
  hard-routed perplexity. The router still returns its real logits, for the router cross-entropy.
- the router losses: cross-entropy towards the forced expert (stage 1) and the load-balancing loss (stage 2).
- routing statistics: the share of each language's tokens that each expert receives (top-k choices).
"""

from __future__ import annotations

from labkit.errors import LabkitError


class Routing:
    """Hooks on the routers of a Qwen2MoE model. Set `forced` to a LongTensor [batch] of experts (or None for
    free routing) before a forward; `logits` and `choices` hold one entry per MoE layer of the last forward."""

    def __init__(self, model):
        self.routers = [m for m in model.modules() if type(m).__name__ == "Qwen2MoeTopKRouter"]
        if not self.routers:
            raise LabkitError("The model has no Qwen2MoE router.", hint="Upcycle it first: labkit dmoe upcycle.")
        self.num_experts = self.routers[0].num_experts
        self.forced = None
        self.logits: list = []
        self.choices: list = []
        self._handles = [r.register_forward_hook(self._hook) for r in self.routers]

    def _hook(self, module, inputs, output):
        import torch

        logits, scores, indices = output
        self.logits.append(logits)
        if self.forced is not None:
            tokens = logits.shape[0]
            per_token = self.forced.to(logits.device).repeat_interleave(tokens // self.forced.shape[0])
            # the second slot names another real expert with weight 0: every experts kernel handles that
            indices = torch.stack([per_token, (per_token + 1) % self.num_experts], dim=-1)[:, : indices.shape[1]]
            scores = torch.zeros_like(scores)
            scores[:, 0] = 1
            output = (logits, scores, indices)
        self.choices.append(indices.detach())
        return output

    def reset(self) -> None:
        self.logits, self.choices = [], []

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def router_ce_loss(logits: list, forced, attention_mask=None):
    """Mean cross-entropy of every MoE layer's router towards each sequence's forced expert (reference: the
    dataset id), over real tokens."""
    import torch
    import torch.nn.functional as F

    stacked = torch.stack([l.float() for l in logits])  # [layers, batch*seq, experts]
    tokens = stacked.shape[1]
    target = forced.to(stacked.device).repeat_interleave(tokens // forced.shape[0])
    ce = F.cross_entropy(stacked.reshape(-1, stacked.shape[-1]), target.repeat(len(logits)), reduction="none")
    if attention_mask is None:
        return ce.mean()
    mask = attention_mask.reshape(-1).to(ce.device).float().repeat(len(logits))
    return (ce * mask).sum() / mask.sum().clamp_min(1)


def load_balancing_loss(logits: list, num_experts: int, top_k: int, attention_mask=None):
    """Switch-Transformer load balancing (transformers' own implementation for Qwen2MoE)."""
    from transformers.models.qwen2_moe.modeling_qwen2_moe import load_balancing_loss_func

    return load_balancing_loss_func(tuple(logits), num_experts, top_k, attention_mask)


def _batches(tok, texts: list[str], max_length: int, batch_size: int = 8):
    for i in range(0, len(texts), batch_size):
        yield tok(texts[i : i + batch_size], return_tensors="pt", padding=True, truncation=True, max_length=max_length)


def expert_perplexities(model, tok, texts: list[str], max_length: int = 512) -> list[float]:
    """Perplexity of `texts` with every token hard-routed to expert e, for each e (reference: ppl_hard_router.py)."""
    import math

    import torch

    routing = Routing(model)
    device = next(model.parameters()).device
    out = []
    try:
        for e in range(routing.num_experts):
            nll, n = 0.0, 0
            for batch in _batches(tok, texts, max_length):
                batch = batch.to(device)
                labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
                routing.forced = torch.full((batch["input_ids"].shape[0],), e, dtype=torch.long)
                with torch.no_grad():
                    loss = model(**batch, labels=labels).loss
                count = int((labels[:, 1:] != -100).sum())
                nll += float(loss) * count
                n += count
                routing.reset()
            out.append(math.exp(nll / max(n, 1)))
    finally:
        routing.remove()
    return out


def routing_stats(model, tok, texts_by_lang: dict[str, list[str]], max_length: int = 512) -> dict:
    """Free routing: per language, the share of its tokens whose first choice (highest router weight) is each
    expert, over all MoE layers (`experts`) and per layer (`per_layer`)."""
    import torch

    routing = Routing(model)
    device = next(model.parameters()).device
    result = {}
    try:
        for lang, texts in texts_by_lang.items():
            per_layer = None
            for batch in _batches(tok, texts, max_length):
                batch = batch.to(device)
                mask = batch["attention_mask"].reshape(-1).bool()
                with torch.no_grad():
                    model(**batch)
                counts = torch.stack(
                    [torch.bincount(c[mask, 0].cpu(), minlength=routing.num_experts) for c in routing.choices]
                )
                per_layer = counts if per_layer is None else per_layer + counts
                routing.reset()
            per_layer = per_layer.float()
            share = per_layer / per_layer.sum(dim=1, keepdim=True).clamp_min(1)
            total = per_layer.sum(dim=0)
            result[lang] = {
                "experts": [round(float(x), 4) for x in total / total.sum().clamp_min(1)],
                "per_layer": [[round(float(x), 4) for x in row] for row in share],
            }
    finally:
        routing.remove()
    return result
