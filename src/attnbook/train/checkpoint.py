"""Save a model with its config, and load it back exactly.

A checkpoint holds the model's class, its config (a plain dict) and its
weights, plus anything JSON-like you add (a tokenizer's ``to_dict()``, the
training history). :func:`load_checkpoint` rebuilds the model from the config
alone, so nothing else needs to be remembered. Files load with
``torch.load(weights_only=True)``: no code runs while reading.

Introduced in chapter 10 (encoder-only).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

import torch
from torch import nn

__all__ = ["load_checkpoint", "save_checkpoint"]

_FORMAT = "attnbook.checkpoint/1"


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def save_checkpoint(
    path: str | os.PathLike[str], model: nn.Module, extra: dict[str, Any] | None = None
) -> None:
    """Write ``model`` (class, config, weights) and ``extra`` to ``path``.

    Args:
        path: the file to write.
        model: an attnbook model (it needs a dataclass ``config`` attribute).
        extra: more to store: plain Python values (str, numbers, lists, dicts)
            and tensors only.

    Example:
        >>> import tempfile, pathlib
        >>> from attnbook.models import DecoderOnly, DecoderOnlyConfig
        >>> model = DecoderOnly(DecoderOnlyConfig(vocab_size=10, embed_dim=16, num_heads=2))
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "lm.pt"
        >>> save_checkpoint(path, model, extra={"note": "untrained"})
        >>> again, extra = load_checkpoint(path)
        >>> ids = torch.tensor([[1, 2, 3]])
        >>> torch.equal(again(ids).logits, model.eval()(ids).logits), extra["note"]
        (True, 'untrained')

    Introduced in chapter 10 (encoder-only).
    """
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        raise TypeError(
            f"model: expected a model with a dataclass `config` attribute, got {type(model).__name__}"
        )
    torch.save(
        {
            "format": _FORMAT,
            "model_class": _class_path(type(model)),
            "config": dataclasses.asdict(config),
            "state_dict": model.state_dict(),
            "extra": {} if extra is None else extra,
        },
        path,
    )


def _config_differences(saved: dict[str, Any], config: object) -> list[str]:
    current = dataclasses.asdict(config)  # type: ignore[call-overload]
    names = sorted(set(saved) | set(current))
    return [
        f"{name}: checkpoint {saved.get(name, '<missing>')!r}, model {current.get(name, '<missing>')!r}"
        for name in names
        if saved.get(name, "<missing>") != current.get(name, "<missing>")
    ]


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | None = None,
    map_location: torch.device | str | None = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the file.
        model: load into this model (its class and config must match the
            checkpoint's); None builds a new one from the saved config.
        map_location: where the weights go (a new model is moved there too).

    Returns:
        ``(model, extra)``, the model in eval mode.

    Introduced in chapter 10 (encoder-only).
    """
    data = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"path: {os.fspath(path)!r} is not an attnbook checkpoint ({_FORMAT})")
    class_path = data["model_class"]
    if model is None:
        module_name, _, class_name = class_path.rpartition(".")
        if not module_name.startswith("attnbook."):
            raise ValueError(
                f"path: the checkpoint names class {class_path!r}; only attnbook models are "
                "rebuilt automatically, pass `model=` to load others"
            )
        cls = getattr(importlib.import_module(module_name), class_name)
        model = cls(cls.config_class(**data["config"]))
        if map_location is not None:
            model.to(map_location)
    else:
        if _class_path(type(model)) != class_path:
            raise ValueError(
                f"model: the checkpoint holds a {class_path}, got a {_class_path(type(model))}"
            )
        differences = _config_differences(data["config"], getattr(model, "config", None))
        if differences:
            raise ValueError(
                "model: config does not match the checkpoint: " + "; ".join(differences)
            )
    model.load_state_dict(data["state_dict"])
    return model.eval(), data["extra"]
