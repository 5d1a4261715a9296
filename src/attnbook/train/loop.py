"""One training loop for every model in the book.

:func:`fit` takes a model, a source of batches and a loss function, and runs
AdamW with a warm-up + cosine learning-rate schedule, gradient clipping, a
progress bar (``tqdm.auto``: a bar in a terminal and in a notebook), periodic
evaluation and an optional wall-clock budget. It returns a :class:`History`
whose lists are ready to plot.

Runs repeat exactly for a given ``seed`` when the budget is a number of
steps. With ``max_seconds`` the schedule follows the clock, so how many steps
fit (and the numbers) depend on the machine.

Introduced in chapter 10 (encoder-only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from attnbook.device import seed_everything

__all__ = ["History", "fit", "make_optimizer", "to_device", "warmup_cosine"]

Batch = Any
LossFn = Callable[[nn.Module, Batch], Tensor]


@dataclass
class History:
    """What happened during :func:`fit`, for plots and reports.

    Attributes:
        step: the step number of each recorded training loss (1, 2, ...).
        loss: the training loss at each step.
        lr: the learning rate used at each step.
        time: training seconds when each step finished (evaluation excluded).
        eval_step: the steps at which ``eval_fn`` ran.
        eval_time: training seconds at each evaluation.
        metrics: metric name → its values at ``eval_step``.
        steps: steps completed.
        seconds: training seconds in total (evaluation excluded).
        eval_seconds: seconds spent evaluating.
        tokens: tokens (elements of the first tensor of each batch) seen.
        stopped_by: ``"steps"``, ``"max_seconds"`` or ``"stop_fn"``.
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_time: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    eval_seconds: float = 0.0
    tokens: int = 0
    stopped_by: str = ""

    @property
    def tokens_per_second(self) -> float:
        """Training throughput, in tokens seen per second of training."""
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def final(self, metric: str) -> float:
        """The last value of an evaluation metric."""
        if metric not in self.metrics or not self.metrics[metric]:
            raise KeyError(f"metric: {metric!r} was not recorded; have {sorted(self.metrics)}")
        return self.metrics[metric][-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (for benchmark files and checkpoints)."""
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


def warmup_cosine(progress: float, warmup: float = 0.05, min_ratio: float = 0.1) -> float:
    """The learning-rate factor at a point of training: linear warm-up, then a cosine decay.

    Args:
        progress: how far training is, from 0 (start) to 1 (end).
        warmup: the share of training spent warming up from 0 to 1.
        min_ratio: the factor reached at the end.

    Returns:
        A factor in ``[0, 1]`` that multiplies the peak learning rate.

    Example:
        >>> [round(warmup_cosine(p, warmup=0.1), 3) for p in (0.0, 0.05, 0.1, 0.55, 1.0)]
        [0.0, 0.5, 1.0, 0.55, 0.1]

    Introduced in chapter 10 (encoder-only).
    """
    if progress < warmup:
        return progress / warmup
    decay = min(1.0, (progress - warmup) / max(1e-12, 1.0 - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * decay))


def make_optimizer(
    model: nn.Module,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.98),
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or 1-D tables).

    Example:
        >>> opt = make_optimizer(nn.Linear(3, 2))
        >>> [len(g["params"]) for g in opt.param_groups], opt.param_groups[0]["weight_decay"]
        ([1, 1], 0.01)

    Introduced in chapter 10 (encoder-only).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: expected trainable parameters, got none")
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params):
        try:
            # One fused kernel for all parameters: several times faster than the loop
            # over tensors on the CPU (torch >= 2.4; older versions refuse, see below).
            return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def to_device(batch: Batch, device: torch.device | str) -> Batch:
    """Move every tensor in a batch (tensor, tuple, list, dict, or object with ``.to``).

    Example:
        >>> to_device({"x": torch.ones(1), "n": 3}, "cpu")
        {'x': tensor([1.]), 'n': 3}
    """
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a NamedTuple
        return type(batch)(*(to_device(b, device) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if hasattr(batch, "to") and callable(batch.to):
        return batch.to(device)
    return batch


def _first_tensor(batch: Batch) -> Tensor | None:
    if isinstance(batch, Tensor):
        return batch
    items = batch.values() if isinstance(batch, dict) else batch
    if isinstance(items, (list, tuple)) or isinstance(batch, dict):
        for item in items:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _batches(
    train_data: Callable[[torch.Generator], Batch] | Iterable[Batch], generator: torch.Generator
) -> Iterator[Batch]:
    if callable(train_data):
        while True:
            yield train_data(generator)
    if not isinstance(train_data, Iterable):
        raise TypeError(
            "train_data: expected a callable (generator -> batch) or an iterable of batches, "
            f"got {type(train_data).__name__}"
        )
    while True:  # epoch after epoch
        empty = True
        for batch in train_data:
            empty = False
            yield batch
        if empty:
            raise ValueError("train_data: the iterable yielded no batches")


def fit(
    model: nn.Module,
    train_data: Callable[[torch.Generator], Batch] | Iterable[Batch],
    loss_fn: LossFn,
    *,
    steps: int | None = None,
    max_seconds: float | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    betas: tuple[float, float] = (0.9, 0.98),
    warmup: float = 0.05,
    min_lr_ratio: float = 0.1,
    grad_clip: float | None = 1.0,
    device: torch.device | str | None = None,
    eval_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    eval_every: int | None = None,
    stop_fn: Callable[[dict[str, float]], bool] | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` and return its :class:`History`; the model is left in eval mode.

    Each step draws a batch, computes ``loss_fn(model, batch)``, back-propagates,
    clips the gradient norm to ``grad_clip`` and takes an AdamW step
    (:func:`make_optimizer`) at the learning rate ``lr * warmup_cosine(progress)``.
    ``progress`` runs from 0 to 1 over ``steps`` steps or ``max_seconds`` of
    training, whichever ends first (evaluation time does not count).

    Args:
        model: the model; moved to ``device`` if given, else trained where it is.
        train_data: either a function ``generator -> batch`` (random batches,
            drawn with a generator seeded by ``seed``) or an iterable of
            batches (a list, a DataLoader), repeated epoch after epoch.
        loss_fn: ``(model, batch) -> scalar loss``; the batch is already on the device.
        steps: the number of optimisation steps.
        max_seconds: a wall-clock budget for training, in seconds.
        lr: the peak learning rate.
        weight_decay: AdamW's decoupled weight decay (matrices only).
        betas: AdamW's moment coefficients.
        warmup: the share of training spent warming the learning rate up.
        min_lr_ratio: the final learning rate as a share of ``lr``.
        grad_clip: the maximum gradient norm (None: no clipping).
        device: where to train (None: where the model already is).
        eval_fn: ``model -> {metric: value}``, called in eval mode without
            gradients every ``eval_every`` steps and once at the end.
        eval_every: steps between evaluations (None: only at the end).
        stop_fn: ``metrics -> bool``; training stops after an evaluation for
            which it returns True (e.g. a target accuracy reached).
        seed: seeds torch, NumPy and ``random`` (initialising dropout masks) and
            the batch generator.
        progress: show a progress bar (unless the environment sets ``TQDM_DISABLE=1``).
        desc: the progress bar's label.

    Returns:
        The :class:`History`.

    Example:
        >>> model = nn.Linear(1, 1)
        >>> def batch(g):
        ...     x = torch.randn(32, 1, generator=g)
        ...     return x, 3 * x + 1
        >>> def loss_fn(m, b):
        ...     return nn.functional.mse_loss(m(b[0]), b[1])
        >>> history = fit(model, batch, loss_fn, steps=300, lr=0.1, progress=False)
        >>> history.steps, history.loss[-1] < 1e-3, round(model.bias.item(), 2)
        (300, True, 1.0)

    Introduced in chapter 10 (encoder-only).
    """
    if steps is None and max_seconds is None:
        raise ValueError("steps, max_seconds: expected at least one budget, got neither")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps: expected a positive int, got {steps!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds: expected a positive number, got {max_seconds!r}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every: expected a positive int, got {eval_every!r}")
    if not 0.0 <= warmup < 1.0:
        raise ValueError(f"warmup: expected a share in [0, 1), got {warmup!r}")

    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    optimizer = make_optimizer(model, lr, weight_decay, betas)
    batches = _batches(train_data, generator)
    history = History()

    def evaluate() -> bool:
        assert eval_fn is not None
        begin = time.perf_counter()
        model.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in eval_fn(model).items()}
        model.train()
        history.eval_seconds += time.perf_counter() - begin
        history.eval_step.append(history.steps)
        history.eval_time.append(history.seconds)
        for name, value in metrics.items():
            history.metrics.setdefault(name, []).append(value)
        bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
        return stop_fn is not None and stop_fn(metrics)

    # progress=True leaves the choice to tqdm, so TQDM_DISABLE=1 still turns the bar off
    # (the book build does: a static page cannot show a live bar, only an empty band).
    off = {} if progress else {"disable": True}
    bar = tqdm(total=steps, desc=desc, leave=False, dynamic_ncols=True, **off)
    model.train()
    stopped = False
    try:
        while True:
            done = max(
                history.steps / steps if steps else 0.0,
                history.seconds / max_seconds if max_seconds else 0.0,
            )
            if done >= 1.0:
                history.stopped_by = (
                    "steps" if steps is not None and history.steps >= steps else "max_seconds"
                )
                break
            begin = time.perf_counter()
            rate = lr * warmup_cosine(done, warmup, min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = rate
            batch = to_device(next(batches), device)
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise RuntimeError(
                    f"loss: became {loss.item()} at step {history.steps + 1} (lr={rate:.3g}); "
                    "try a lower lr or a stronger grad_clip"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            value = loss.item()  # waits for the device, so the step time below is honest
            history.steps += 1
            history.seconds += time.perf_counter() - begin
            first = _first_tensor(batch)
            history.tokens += first.numel() if first is not None else 0
            history.step.append(history.steps)
            history.loss.append(value)
            history.lr.append(rate)
            history.time.append(history.seconds)
            bar.update(1)
            if history.steps % 10 == 0:
                bar.set_description(f"{desc} loss {value:.4f}", refresh=False)
            if eval_fn is not None and eval_every and history.steps % eval_every == 0:
                if evaluate():
                    history.stopped_by, stopped = "stop_fn", True
                    break
        if eval_fn is not None and not stopped and history.eval_step[-1:] != [history.steps]:
            evaluate()
    finally:
        bar.close()
        model.eval()
    return history
