"""Tokenizers: text to token ids and back, losslessly.

Two tokenizers share one small base class. :class:`CharTokenizer` makes every
character a token (the character language model of chapter 11, the date
translator of chapter 12); :class:`WordTokenizer` makes every word and every
punctuation mark a token (the toy-world tasks of chapters 10 and 13).

Both put the same special tokens first, so ``<pad>`` is always id 0 and a
tensor of zeros is always padding. A character (or word) that is not in the
vocabulary is refused with a :class:`ValueError` instead of being silently
replaced by an "unknown" token: a replacement would make decoding lossy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from torch import Tensor

from attnbook.data.batching import Batch, pad_sequences

__all__ = [
    "SPECIAL_TOKENS",
    "CharTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "join_words",
    "split_words",
]

#: The special tokens every tokenizer starts with, in this order (``<pad>`` is id 0).
SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<sep>", "<mask>")


class Tokenizer:
    """Shared machinery: a vocabulary, encode/decode, batches with padding masks.

    Subclasses only say how a text splits into tokens (:meth:`tokenize`) and
    how tokens join back into a text (:meth:`detokenize`).

    Args:
        tokens: the ordinary tokens, in the order their ids should follow the
            special tokens. Duplicates are refused.

    Introduced in chapter 10 (encoder-only).
    """

    kind = "base"

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str) or token == "":
                raise TypeError(f"tokens: expected non-empty strings, got {token!r}")
        clashes = sorted(set(tokens) & set(SPECIAL_TOKENS))
        if clashes:
            raise ValueError(f"tokens: {clashes} clash with the special tokens {SPECIAL_TOKENS}")
        if len(set(tokens)) != len(tokens):
            seen: set[str] = set()
            dupes = sorted({t for t in tokens if t in seen or seen.add(t)})
            raise ValueError(f"tokens: expected unique tokens, got duplicates {dupes[:10]}")
        self.itos: list[str] = [*SPECIAL_TOKENS, *tokens]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.pad_id = self.stoi["<pad>"]
        self.bos_id = self.stoi["<bos>"]
        self.eos_id = self.stoi["<eos>"]
        self.sep_id = self.stoi["<sep>"]
        self.mask_id = self.stoi["<mask>"]

    # --- the two methods subclasses define -----------------------------------
    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into token strings (one per character here)."""
        return list(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join token strings back into a text (the inverse of :meth:`tokenize`)."""
        return "".join(tokens)

    # --- vocabulary ---------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return len(self.itos)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.itos == other.itos  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self.itos)))

    @property
    def special_ids(self) -> frozenset[int]:
        """The ids of the special tokens."""
        return frozenset(range(len(SPECIAL_TOKENS)))

    # --- encode / decode ----------------------------------------------------
    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Turn ``text`` into a list of ids.

        Args:
            text: the text to encode.
            add_bos: put ``<bos>`` first.
            add_eos: put ``<eos>`` last.

        Returns:
            The ids. Raises ``ValueError`` naming the first token that is not
            in the vocabulary.
        """
        if not isinstance(text, str):
            raise TypeError(f"text: expected str, got {type(text).__name__}")
        ids = []
        for position, token in enumerate(self.tokenize(text)):
            index = self.stoi.get(token)
            if index is None or index in self.special_ids:
                raise ValueError(
                    f"text: unknown token {token!r} at token position {position}; "
                    f"the vocabulary has {self.vocab_size} tokens (build the tokenizer "
                    "from text that contains it)"
                )
            ids.append(index)
        return [self.bos_id] * add_bos + ids + [self.eos_id] * add_eos

    def decode(
        self, ids: Sequence[int] | Tensor, skip_special: bool = True, stop_at_eos: bool = True
    ) -> str:
        """Turn ids back into text.

        Args:
            ids: a list or a 1-D tensor of ids.
            skip_special: drop special tokens (padding, ``<bos>``, ...).
            stop_at_eos: stop at the first ``<eos>`` (what a generator wants).

        Returns:
            The text. ``decode(encode(t)) == t`` for every text the vocabulary covers.
        """
        if isinstance(ids, Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids: expected a 1-D tensor, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        tokens = []
        for index in ids:
            index = int(index)
            if not 0 <= index < self.vocab_size:
                raise ValueError(
                    f"ids: id {index} is outside the vocabulary [0, {self.vocab_size})"
                )
            if stop_at_eos and index == self.eos_id:
                break
            if skip_special and index in self.special_ids:
                continue
            tokens.append(self.itos[index])
        return self.detokenize(tokens)

    def encode_batch(
        self,
        texts: Sequence[str],
        add_bos: bool = False,
        add_eos: bool = False,
        max_len: int | None = None,
    ) -> Batch:
        """Encode several texts into one padded batch.

        Args:
            texts: the texts.
            add_bos: put ``<bos>`` first in each.
            add_eos: put ``<eos>`` last in each.
            max_len: pad to this length (default: the longest text). A text
                longer than ``max_len`` is refused, never cut silently.

        Returns:
            A :class:`~attnbook.data.Batch` with ``ids``, ``lengths`` and
            ``padding_mask`` (True = real token).

        Shape:
            ``ids`` and ``padding_mask``: (N, S); ``lengths``: (N,).
        """
        sequences = [self.encode(t, add_bos=add_bos, add_eos=add_eos) for t in texts]
        return pad_sequences(sequences, padding_value=self.pad_id, max_len=max_len)

    def decode_batch(self, ids: Tensor, skip_special: bool = True) -> list[str]:
        """Decode every row of an (N, S) tensor of ids (stopping at ``<eos>``)."""
        if ids.dim() != 2:
            raise ValueError(f"ids: expected shape (N, S), got {tuple(ids.shape)}")
        return [self.decode(row, skip_special=skip_special) for row in ids]

    # --- saving -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain dictionary (safe for ``torch.save``/JSON) that rebuilds this tokenizer."""
        return {"kind": self.kind, "tokens": self.itos[len(SPECIAL_TOKENS) :]}

    @staticmethod
    def from_dict(state: dict[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer saved with :meth:`to_dict`."""
        kinds = {"char": CharTokenizer, "word": WordTokenizer}
        kind = state.get("kind")
        if kind not in kinds:
            raise ValueError(f"state['kind']: expected one of {sorted(kinds)}, got {kind!r}")
        return kinds[kind](state["tokens"])


class CharTokenizer(Tokenizer):
    """Every character is a token.

    Args:
        tokens: the characters of the vocabulary (an iterable of single
            characters, or one string holding them all).

    Example:
        >>> tok = CharTokenizer.from_text("hello world")
        >>> tok.encode("hello")
        [8, 7, 9, 9, 10]
        >>> tok.decode(tok.encode("hello", add_bos=True, add_eos=True))
        'hello'
        >>> tok.encode_batch(["hi", "hello"]).ids.shape  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: text: unknown token 'i' at token position 1; ...

    Introduced in chapter 11 (decoder-only).
    """

    kind = "char"

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str) or len(token) != 1:
                raise ValueError(f"tokens: expected single characters, got {token!r}")
        super().__init__(tokens)

    @classmethod
    def from_text(cls, text: str | Iterable[str]) -> CharTokenizer:
        """The tokenizer whose vocabulary is every character of ``text``, sorted.

        Args:
            text: one text, or several.
        """
        if isinstance(text, str):
            text = [text]
        chars: set[str] = set()
        for t in text:
            chars.update(t)
        return cls(sorted(chars))


# A word is a run of letters/digits/underscores; every other non-space
# character is a token of its own.
_WORD_RE = re.compile(r"\w+|[^\w\s]")
# No space before closing punctuation, none after an opening bracket.
_NO_SPACE_BEFORE = frozenset(".,!?;:)]}")
_NO_SPACE_AFTER = frozenset("([{")


def split_words(text: str) -> list[str]:
    """Split a text into words and punctuation marks (how :class:`WordTokenizer` reads).

    Example:
        >>> split_words("Where did Anna take the kite?")
        ['Where', 'did', 'Anna', 'take', 'the', 'kite', '?']

    Introduced in chapter 10 (encoder-only).
    """
    return _WORD_RE.findall(text)


def join_words(tokens: Sequence[str]) -> str:
    """Join words with single spaces, none before closing punctuation or after an opening bracket.

    Example:
        >>> join_words(["The", "cat", "sat", "(", "quietly", ")", "."])
        'The cat sat (quietly).'

    Introduced in chapter 10 (encoder-only).
    """
    pieces: list[str] = []
    for i, token in enumerate(tokens):
        if i > 0 and token not in _NO_SPACE_BEFORE and tokens[i - 1] not in _NO_SPACE_AFTER:
            pieces.append(" ")
        pieces.append(token)
    return "".join(pieces)


class WordTokenizer(Tokenizer):
    """Every word and every punctuation mark is a token.

    Decoding puts one space between tokens, except before closing punctuation
    (``. , ! ? ; : ) ] }``) and after opening brackets. So the round trip
    ``decode(encode(t)) == t`` holds for text written that way, which is how
    every toy-world sentence is written; :meth:`normalize` gives that form
    for any other text.

    Args:
        tokens: the words and punctuation marks of the vocabulary.

    Example:
        >>> tok = WordTokenizer.from_texts(["The cat sat on the mat."])
        >>> tok.tokenize("The cat sat on the mat.")
        ['The', 'cat', 'sat', 'on', 'the', 'mat', '.']
        >>> tok.decode(tok.encode("The mat sat on the cat."))
        'The mat sat on the cat.'
        >>> tok.normalize("the  cat ,sat")
        'the cat, sat'

    Introduced in chapter 10 (encoder-only).
    """

    kind = "word"

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = list(tokens)
        for token in tokens:
            if not isinstance(token, str) or _WORD_RE.fullmatch(token) is None:
                raise ValueError(f"tokens: expected a word or one punctuation mark, got {token!r}")
        super().__init__(tokens)

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into words and punctuation marks."""
        return split_words(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens with single spaces, none before closing punctuation."""
        return join_words(tokens)

    def normalize(self, text: str) -> str:
        """The canonical spelling of ``text``, for which encoding is lossless."""
        return self.detokenize(self.tokenize(text))

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> WordTokenizer:
        """The tokenizer whose vocabulary is every token of ``texts``, sorted."""
        words: set[str] = set()
        for text in texts:
            words.update(_WORD_RE.findall(text))
        return cls(sorted(words))
