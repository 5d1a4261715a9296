"""Training: one loop for every model, checkpoints, and the book's ready-made recipes.

* ``attnbook.train.loop`` — :func:`fit`, :class:`History`, the learning-rate schedule;
* ``attnbook.train.checkpoint`` — :func:`save_checkpoint`, :func:`load_checkpoint`;
* ``attnbook.train.recipes`` — preset configs and ``train_*`` functions
  that chapters call to get a trained model in one line;
* ``attnbook.train.benchmark`` — what ``benchmarks/train_models.py`` recorded
  for each recipe, for chapters to show beside their own run.

Example:
    >>> from attnbook.train import fit, warmup_cosine
    >>> round(warmup_cosine(0.5, warmup=0.0, min_ratio=0.0), 2)
    0.5

Introduced in chapter 10 (encoder-only).
"""

from attnbook.notebook import fast_mode
from attnbook.train.benchmark import benchmark_run, describe_benchmark_run
from attnbook.train.checkpoint import load_checkpoint, save_checkpoint
from attnbook.train.loop import History, fit, make_optimizer, to_device, warmup_cosine
from attnbook.train.recipes import (
    TrainResult,
    char_lm_config,
    date_config,
    evaluate_char_lm,
    evaluate_date_translator,
    evaluate_pointer,
    pronoun_config,
    train_char_lm,
    train_date_translator,
    train_pronoun_resolver,
)

__all__ = [
    "History",
    "TrainResult",
    "benchmark_run",
    "char_lm_config",
    "date_config",
    "describe_benchmark_run",
    "evaluate_char_lm",
    "evaluate_date_translator",
    "evaluate_pointer",
    "fast_mode",
    "fit",
    "load_checkpoint",
    "make_optimizer",
    "pronoun_config",
    "save_checkpoint",
    "to_device",
    "train_char_lm",
    "train_date_translator",
    "train_pronoun_resolver",
    "warmup_cosine",
]
