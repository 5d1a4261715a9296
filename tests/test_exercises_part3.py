"""Part III self-checks: each accepts right answers and names the typical wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import attnbook.exercises as exercises
from attnbook.data import shift_right
from attnbook.exercises import part3

# Verdicts unwrapped: these tests match whole lines (the book wraps them at 76).
pytestmark = pytest.mark.usefixtures("unwrapped_verdicts")

# ----------------------------------------------------------------- right answers


def _layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def _feed_forward(x, ff):
    act = {"gelu": F.gelu, "relu": F.relu}[ff.activation]
    return act(x @ ff.linear1.weight.T + ff.linear1.bias) @ ff.linear2.weight.T + ff.linear2.bias


def _post_norm(x, layer):
    h = layer.norm1(x + layer.self_attn(x, x, x)[0])
    return layer.norm2(h + layer.ff(h))


def _dropout(x, p, training):
    if not training:
        return x
    return torch.where(torch.rand_like(x) < p, torch.zeros_like(x), x / (1 - p))


def _hits(weights, pronoun_index, answer_index):
    out = []
    for h in range(weights.size(1)):
        rows = [weights[n, h, pronoun_index[n]].argmax() for n in range(len(weights))]
        out.append(sum(int(r == a) for r, a in zip(rows, answer_index, strict=True)) / len(rows))
    return torch.tensor(out)


def _mask_tokens(ids, padding_mask, mask_id, p, generator=None):
    chosen = (torch.rand(ids.shape, generator=generator) < p) & padding_mask
    return ids.masked_fill(chosen, mask_id), ids.masked_fill(~chosen, -100)


def _mean_pool(hidden, mask):
    w = mask.unsqueeze(-1).float()
    return (hidden * w).sum(1) / w.sum(1)


def _top_k(logits, k):
    kth = torch.sort(logits, dim=-1, descending=True).values[:, k - 1 : k]
    return torch.where(logits >= kth, logits, torch.full_like(logits, -math.inf))


def _lm_loss(logits, ids):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1))


def _greedy(model, prompt, n):
    tokens = prompt
    for _ in range(n):
        tokens = torch.cat([tokens, model(tokens).logits[:, -1].argmax(-1, keepdim=True)], 1)
    return tokens


def _translate(model, src, mask, bos, eos, n):
    memory, _ = model.encode(src, mask)
    tokens = torch.full((src.size(0), 1), bos)
    for _ in range(n):
        logits = model.decode(tokens, memory, mask).logits
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return tokens[:, 1:]


def _exact(predictions, targets):
    return sum(p == t for p, t in zip(predictions, targets, strict=True)) / len(targets)


RIGHT = {
    "check_layer_norm": [
        _layer_norm,
        lambda x, w, b, eps=1e-5: F.layer_norm(x, x.shape[-1:], w, b, eps),
    ],
    "check_feed_forward": [_feed_forward, lambda x, ff: ff(x)],
    "check_post_norm_block": [_post_norm],
    "check_inverted_dropout": [_dropout, lambda x, p, training: F.dropout(x, p, training)],
    "check_antecedent_hits": [_hits],
    "check_mask_tokens": [_mask_tokens],
    "check_masked_mean_pooling": [_mean_pool],
    "check_top_k_filter": [_top_k],
    "check_next_token_loss": [
        _lm_loss,
        lambda logits, ids: F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:]),
    ],
    "check_greedy_generate": [
        _greedy,
        lambda model, prompt, n: model.generate(prompt, n, do_sample=False, use_cache=False),
    ],
    "check_teacher_forcing_input": [
        lambda tgt, bos: shift_right(tgt, bos),
        lambda tgt, bos: torch.cat([torch.full_like(tgt[:, :1], bos), tgt[:, :-1]], 1),
    ],
    "check_greedy_translate": [
        _translate,
        lambda model, src, mask, bos, eos, n: model.generate(src, n, bos, eos, mask),
    ],
    "check_exact_match": [_exact, lambda p, t: float(sum(map(str.__eq__, p, t))) / len(t)],
}


@pytest.mark.parametrize(
    ("name", "index"), [(name, i) for name, fns in RIGHT.items() for i in range(len(fns))]
)
def test_accepts_a_right_answer(name, index, capsys):
    assert getattr(part3, name)(RIGHT[name][index]).passed is True
    out = capsys.readouterr().out
    assert out.startswith(f"Correct: {name} — "), out


# ----------------------------------------------------------------- typical mistakes


def _ln_unbiased(x, w, b, eps=1e-5):
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b


def _ln_no_eps(x, w, b, eps=1e-5):
    var = x.var(-1, correction=0, keepdim=True)
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(var) * w + b


def _ln_batch(x, w, b, eps=1e-5):
    return F.batch_norm(x.reshape(-1, x.size(-1)), None, None, w, b, True, 0.0, eps).reshape(
        x.shape
    )


def _ff_no_act(x, ff):
    return ff.linear2(ff.linear1(x))


def _ff_act_after(x, ff):
    return F.gelu(ff.linear2(ff.linear1(x)))


def _ff_no_bias(x, ff):
    act = {"gelu": F.gelu, "relu": F.relu}[ff.activation]
    return act(x @ ff.linear1.weight.T) @ ff.linear2.weight.T


def _ff_always_gelu(x, ff):
    return ff.linear2(F.gelu(ff.linear1(x)))


def _block_pre(x, layer):
    h = layer.norm1(x)
    x = x + layer.self_attn(h, h, h)[0]
    return x + layer.ff(layer.norm2(x))


def _block_no_residual(x, layer):
    h = layer.norm1(layer.self_attn(x, x, x)[0])
    return layer.norm2(layer.ff(h))


def _block_no_norm2(x, layer):
    h = layer.norm1(x + layer.self_attn(x, x, x)[0])
    return h + layer.ff(h)


def _block_outside(x, layer):
    h = layer.norm1(layer.self_attn(x, x, x)[0]) + x
    return layer.norm2(layer.ff(h)) + h


def _hits_column(weights, pronoun_index, answer_index):
    cols = weights[torch.arange(len(weights)), :, :, pronoun_index]
    return (cols.argmax(-1) == answer_index[:, None]).float().mean(0)


def _hits_counts(weights, pronoun_index, answer_index):
    rows = weights[torch.arange(len(weights)), :, pronoun_index]
    return (rows.argmax(-1) == answer_index[:, None]).float().sum(0)


def _hits_mean_weight(weights, pronoun_index, answer_index):
    rows = weights[torch.arange(len(weights)), :, pronoun_index]
    return rows[torch.arange(len(weights)), :, answer_index].mean(0)


def _hits_per_sentence(weights, pronoun_index, answer_index):
    rows = weights[torch.arange(len(weights)), :, pronoun_index]
    return (rows.argmax(-1) == answer_index[:, None]).float()


def _mask_padding_too(ids, padding_mask, mask_id, p, generator=None):
    chosen = torch.rand(ids.shape, generator=generator) < p
    return ids.masked_fill(chosen, mask_id), ids.masked_fill(~chosen, -100)


def _mask_labels_everywhere(ids, padding_mask, mask_id, p, generator=None):
    chosen = (torch.rand(ids.shape, generator=generator) < p) & padding_mask
    return ids.masked_fill(chosen, mask_id), ids.clone()


def _mask_labels_zero(ids, padding_mask, mask_id, p, generator=None):
    chosen = (torch.rand(ids.shape, generator=generator) < p) & padding_mask
    return ids.masked_fill(chosen, mask_id), ids.masked_fill(~chosen, 0)


def _mask_labels_mask_id(ids, padding_mask, mask_id, p, generator=None):
    chosen = (torch.rand(ids.shape, generator=generator) < p) & padding_mask
    inputs = ids.masked_fill(chosen, mask_id)
    return inputs, inputs.masked_fill(~chosen, -100)


def _mask_not_replaced(ids, padding_mask, mask_id, p, generator=None):
    chosen = (torch.rand(ids.shape, generator=generator) < p) & padding_mask
    return ids.clone(), ids.masked_fill(~chosen, -100)


def _mask_wrong_rate(ids, padding_mask, mask_id, p, generator=None):
    chosen = (torch.rand(ids.shape, generator=generator) < 1 - p) & padding_mask
    return ids.masked_fill(chosen, mask_id), ids.masked_fill(~chosen, -100)


def _pool_sum(hidden, mask):
    return (hidden * mask.unsqueeze(-1)).sum(1)


def _pool_by_length(hidden, mask):
    return (hidden * mask.unsqueeze(-1)).sum(1) / hidden.size(1)


def _pool_inverted(hidden, mask):
    w = (~mask).unsqueeze(-1).float()
    return (hidden * w).sum(1) / w.sum(1)


def _top_k_zero(logits, k):
    kth = logits.topk(k, -1).values[:, -1:]
    return torch.where(logits >= kth, logits, torch.zeros_like(logits))


def _top_k_plus_one(logits, k):
    kth = logits.topk(min(k + 1, logits.size(-1)), -1).values[:, -1:]
    return logits.masked_fill(logits < kth, -math.inf)


def _top_k_smallest(logits, k):
    kth = logits.topk(k, -1, largest=False).values[:, -1:]
    return logits.masked_fill(logits > kth, -math.inf)


def _top_k_batch_dim(logits, k):
    kth = logits.topk(min(k, logits.size(0)), 0).values[-1:]
    return logits.masked_fill(logits < kth, -math.inf)


def _top_k_probs(logits, k):
    kth = logits.topk(k, -1).values[:, -1:]
    return logits.masked_fill(logits < kth, -math.inf).softmax(-1)


def _loss_no_shift(logits, ids):
    return F.cross_entropy(logits.flatten(0, 1), ids.flatten())


def _loss_wrong_shift(logits, ids):
    return F.cross_entropy(logits[:, 1:].flatten(0, 1), ids[:, :-1].flatten())


def _loss_sum(logits, ids):
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten(), reduction="sum")


def _loss_bits(logits, ids):
    return _lm_loss(logits, ids) / math.log(2)


def _greedy_first(model, prompt, n):
    tokens = prompt
    for _ in range(n):
        tokens = torch.cat([tokens, model(tokens).logits[:, 0].argmax(-1, keepdim=True)], 1)
    return tokens


def _greedy_newest_only(model, prompt, n):
    tokens = prompt
    for _ in range(n):
        step = model(tokens[:, -1:]).logits[:, -1].argmax(-1, keepdim=True)
        tokens = torch.cat([tokens, step], 1)
    return tokens


def _greedy_new_only(model, prompt, n):
    return _greedy(model, prompt, n)[:, prompt.size(1) :]


def _greedy_sampled(model, prompt, n):
    return model.generate(prompt, n, temperature=1.0, generator=torch.Generator().manual_seed(3))


def _translate_keep_bos(model, src, mask, bos, eos, n):
    return torch.cat(
        [torch.full((src.size(0), 1), bos), _translate(model, src, mask, bos, eos, n)], 1
    )


def _translate_first_position(model, src, mask, bos, eos, n):
    memory, _ = model.encode(src, mask)
    tokens = torch.full((src.size(0), 1), bos)
    for _ in range(n):
        logits = model.decode(tokens, memory, mask).logits
        tokens = torch.cat([tokens, logits[:, 0].argmax(-1, keepdim=True)], 1)
    return tokens[:, 1:]


def _translate_no_feedback(model, src, mask, bos, eos, n):
    memory, _ = model.encode(src, mask)
    start = torch.full((src.size(0), 1), bos)
    steps = [model.decode(start, memory, mask).logits[:, -1].argmax(-1) for _ in range(n)]
    return torch.stack(steps, 1)


def _char_accuracy(predictions, targets):
    right = sum(
        a == b
        for p, t in zip(predictions, targets, strict=True)
        for a, b in zip(p, t, strict=False)
    )
    return right / sum(len(t) for t in targets)


WRONG = [
    ("check_layer_norm", _ln_unbiased, "unbiased variance"),
    ("check_layer_norm", _ln_no_eps, "you left out eps"),
    ("check_layer_norm", _ln_batch, "batch norm"),
    (
        "check_layer_norm",
        lambda x, w, b, eps=1e-5: F.layer_norm(x, x.shape[-1:], None, None, eps),
        "learned scale and shift",
    ),
    ("check_feed_forward", _ff_no_act, "no nonlinearity"),
    ("check_feed_forward", _ff_act_after, "after the second linear map"),
    ("check_feed_forward", _ff_no_bias, "left out the biases"),
    ("check_feed_forward", _ff_always_gelu, "wrong activation"),
    ("check_post_norm_block", _block_pre, "that is pre-norm"),
    ("check_post_norm_block", _block_no_residual, "residual connections are missing"),
    ("check_post_norm_block", _block_no_norm2, "second layer norm is missing"),
    ("check_post_norm_block", _block_outside, "added the residual after the norm"),
    (
        "check_inverted_dropout",
        lambda x, p, training: x * (torch.rand_like(x) >= p) if training else x,
        "did not rescale",
    ),
    (
        "check_inverted_dropout",
        lambda x, p, training: x * (torch.rand_like(x) >= p) * (1 - p) if training else x,
        "multiplied the kept values by 1 - p",
    ),
    ("check_inverted_dropout", lambda x, p, training: F.dropout(x, p, True), "training=False"),
    (
        "check_inverted_dropout",
        lambda x, p, training: F.dropout(x, 1 - p, True) if training else x,
        "probability of *dropping*",
    ),
    ("check_antecedent_hits", _hits_column, "column"),
    ("check_antecedent_hits", _hits_counts, "counts"),
    ("check_antecedent_hits", _hits_mean_weight, "*largest* weight"),
    ("check_antecedent_hits", _hits_per_sentence, "average over the sentences"),
    ("check_mask_tokens", _mask_padding_too, "masked padding"),
    ("check_mask_tokens", _mask_labels_everywhere, "set them to -100"),
    ("check_mask_tokens", _mask_labels_zero, "0 is the <pad> id"),
    ("check_mask_tokens", _mask_labels_mask_id, "labels hold mask_id"),
    ("check_mask_tokens", _mask_not_replaced, "inputs are identical to ids"),
    ("check_mask_tokens", _mask_wrong_rate, "expected about p"),
    ("check_masked_mean_pooling", lambda h, m: h.mean(1), "padding positions too"),
    ("check_masked_mean_pooling", _pool_sum, "you summed"),
    ("check_masked_mean_pooling", _pool_by_length, "full length L"),
    ("check_masked_mean_pooling", _pool_inverted, "True in padding_mask marks a real token"),
    ("check_top_k_filter", lambda logits, k: logits, "kept every logit"),
    ("check_top_k_filter", _top_k_zero, "float('-inf')"),
    ("check_top_k_filter", _top_k_plus_one, "k + 1"),
    ("check_top_k_filter", _top_k_smallest, "*smallest*"),
    ("check_top_k_filter", _top_k_batch_dim, "over the batch"),
    ("check_top_k_filter", _top_k_probs, "returned probabilities"),
    ("check_next_token_loss", _loss_no_shift, "token t itself"),
    ("check_next_token_loss", _loss_wrong_shift, "wrong way"),
    ("check_next_token_loss", _loss_sum, "summed the losses"),
    ("check_next_token_loss", _loss_bits, "bits"),
    ("check_greedy_generate", _greedy_first, "logits[:, 0]"),
    ("check_greedy_generate", _greedy_newest_only, "forgot everything"),
    ("check_greedy_generate", _greedy_new_only, "only the new tokens"),
    ("check_greedy_generate", _greedy_sampled, "differs from the greedy choice"),
    ("check_teacher_forcing_input", lambda tgt, bos: tgt.clone(), "the target itself"),
    (
        "check_teacher_forcing_input",
        lambda tgt, bos: torch.cat([torch.full_like(tgt[:, :1], bos), tgt], 1),
        "one token longer",
    ),
    (
        "check_teacher_forcing_input",
        lambda tgt, bos: torch.cat([torch.full_like(tgt[:, :1], bos), tgt[:, 1:]], 1),
        "dropped the target's first token",
    ),
    (
        "check_teacher_forcing_input",
        lambda tgt, bos: torch.cat([tgt[:, 1:], torch.full_like(tgt[:, :1], bos)], 1),
        "<bos> last",
    ),
    ("check_greedy_translate", _translate_keep_bos, "starts with <bos>"),
    ("check_greedy_translate", _translate_first_position, "from <bos> alone"),
    ("check_greedy_translate", _translate_no_feedback, "from <bos> alone"),
    ("check_exact_match", _char_accuracy, "matching characters"),
    ("check_exact_match", lambda p, t: sum(a == b for a, b in zip(p, t, strict=True)), "count"),
    ("check_exact_match", lambda p, t: "all good", "return a number"),
]


@pytest.mark.parametrize(
    ("name", "wrong", "hint"), WRONG, ids=lambda v: v if isinstance(v, str) else ""
)
def test_rejects_a_typical_mistake_with_its_hint(name, wrong, hint, capsys):
    assert getattr(part3, name)(wrong).passed is False
    out = capsys.readouterr().out
    assert out.startswith(f"Not yet: {name} — "), out
    assert hint in out, out


def test_every_check_has_a_right_answer_and_three_wrong_ones():
    assert set(RIGHT) == set(part3.__all__)
    for name in part3.__all__:
        assert sum(1 for n, _, _ in WRONG if n == name) >= 3, name


def test_a_function_that_raises_is_reported_not_raised(capsys):
    def broken(x, weight, bias, eps=1e-5):
        raise RuntimeError("shapes do not match")

    assert part3.check_layer_norm(broken).passed is False
    out = capsys.readouterr().out
    assert "raised RuntimeError: shapes do not match" in out


def test_changing_the_input_in_place_is_reported(capsys):
    def in_place(x, weight, bias, eps=1e-5):
        x -= x.mean(-1, keepdim=True)
        return F.layer_norm(x, x.shape[-1:], weight, bias, eps)

    assert part3.check_layer_norm(in_place).passed is False
    assert "in place" in capsys.readouterr().out


def test_a_wrong_shape_is_named(capsys):
    assert part3.check_masked_mean_pooling(lambda h, m: h).passed is False
    assert "expected (" in capsys.readouterr().out


def test_an_unknown_mistake_gets_the_size_of_the_gap(capsys):
    assert (
        part3.check_layer_norm(lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps) + 0.1).passed
        is False
    )
    assert "largest difference" in capsys.readouterr().out


def test_passing_something_else_than_a_function_is_a_type_error():
    with pytest.raises(TypeError, match="fn: expected your function"):
        part3.check_layer_norm(42)


def test_the_package_exports_the_part_three_checks():
    assert set(part3.__all__) <= set(exercises.__all__)
    for name in part3.__all__:
        assert getattr(exercises, name) is getattr(part3, name)
