"""A toy-world English corpus whose every sentence comes with its answer.

A small grammar writes sentences like the book's examples, and because it
wrote them it knows the answer to the question each one poses:

* **pronoun resolution** — "The cat sat on the mat because it was
  comfortable." → *mat*; "... because it was hungry." → *cat*. The adjective
  decides: some describe only animals (hungry, sleepy), some only things
  (comfortable, sturdy). Dozens of animals, things and adjectives, several
  sentence shapes and optional modifiers keep it from being memorised;
* **subject–verb agreement** across a clause — "The dog near the cats *is*
  hungry." (the verb agrees with *dog*, not with the nearer *cats*);
* **word order** — "The dog bit the man." vs "The man bit the dog.", and the
  passive "The man was bitten by the dog.": who did it?
* **question answering** over short stories — "What color was the car?",
  answered by a word of the story (its character offset and word index);
* **headlines** — a short story and a headline that names its main event.

Each generator takes a ``split``: ``"train"`` or ``"test"``. Examples are
assigned to a side by a stable hash of their content words (the
animal–thing–adjective triple, the agent–patient–verb triple, the story), so
the held-out side contains combinations never seen in training. Words are
split as :class:`~attnbook.data.WordTokenizer` splits them, and
:func:`toyworld_tokenizer` covers every word the grammar can write.

Introduced in chapter 10 (encoder-only).
"""

from __future__ import annotations

import random
import string
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from attnbook.data.tokenizers import WordTokenizer, join_words, split_words

__all__ = [
    "AgreementExample",
    "HeadlineExample",
    "PronounExample",
    "QAExample",
    "WordOrderExample",
    "agreement_examples",
    "headline_examples",
    "pronoun_example",
    "pronoun_examples",
    "qa_examples",
    "toyworld_tokenizer",
    "word_order_examples",
    "word_order_pair",
]

# --- the lexicon --------------------------------------------------------------
#: Animals: singular → plural.
ANIMALS: dict[str, str] = {
    "cat": "cats", "dog": "dogs", "bird": "birds", "horse": "horses", "rabbit": "rabbits",
    "mouse": "mice", "fox": "foxes", "goat": "goats", "cow": "cows", "duck": "ducks",
    "owl": "owls", "bear": "bears", "lion": "lions", "tiger": "tigers", "wolf": "wolves",
    "frog": "frogs", "pig": "pigs", "hamster": "hamsters", "parrot": "parrots",
    "turtle": "turtles", "squirrel": "squirrels", "monkey": "monkeys", "puppy": "puppies",
    "kitten": "kittens", "donkey": "donkeys", "goose": "geese", "chicken": "chickens",
    "otter": "otters", "camel": "camels", "zebra": "zebras", "beaver": "beavers",
    "badger": "badgers", "raccoon": "raccoons", "hedgehog": "hedgehogs", "lamb": "lambs",
    "pony": "ponies",
}  # fmt: skip
#: Things an animal can sit, sleep or lie on.
THINGS: tuple[str, ...] = (
    "mat", "rug", "sofa", "chair", "bench", "bed", "blanket", "pillow", "cushion", "box",
    "basket", "table", "step", "log", "rock", "stool", "carpet", "towel", "couch", "shelf",
    "crate", "hammock", "wall", "fence", "porch", "roof", "sack", "tray", "quilt", "mattress",
    "doormat", "windowsill", "ledge", "stump",
)  # fmt: skip
#: Predicate adjectives that only an animal can be.
ANIMAL_ADJECTIVES: tuple[str, ...] = (
    "hungry", "tired", "sleepy", "scared", "lazy", "bored", "curious", "happy", "sad",
    "lonely", "angry", "nervous", "exhausted", "thirsty", "playful", "frightened", "excited",
    "grumpy", "shy", "restless",
)  # fmt: skip
#: Predicate adjectives that only a thing (a place to rest) can be.
THING_ADJECTIVES: tuple[str, ...] = (
    "comfortable", "soft", "flat", "cozy", "sturdy", "smooth", "spacious", "padded", "wide",
    "empty", "stable", "thick", "roomy", "plush", "sunny", "shady",
)  # fmt: skip
SIZES: tuple[str, ...] = ("small", "big", "little", "large", "tiny", "huge")
COLORS: tuple[str, ...] = (
    "red", "blue", "green", "black", "white", "brown", "grey", "yellow", "orange", "purple",
    "pink",
)  # fmt: skip
INTENSIFIERS: tuple[str, ...] = ("very", "really", "quite", "rather")
PEOPLE: tuple[str, ...] = (
    "man", "woman", "boy", "girl", "farmer", "teacher", "doctor", "baker", "sailor", "king",
    "queen", "child", "pilot", "nurse", "judge",
)  # fmt: skip
#: Transitive verbs: past tense → past participle.
VERBS: dict[str, str] = {
    "bit": "bitten", "chased": "chased", "saw": "seen", "followed": "followed",
    "pushed": "pushed", "kicked": "kicked", "helped": "helped", "called": "called",
    "found": "found", "watched": "watched", "scared": "scared", "pulled": "pulled",
    "licked": "licked", "ignored": "ignored", "visited": "visited", "hugged": "hugged",
}  # fmt: skip
NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jack", "Kate",
    "Leo", "Mia", "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Victor", "Will", "Zoe",
    "Lucy", "Max", "Nina", "Oscar", "Ruby", "Tom", "Uma", "Yara",
)  # fmt: skip
OBJECTS: tuple[str, ...] = (
    "car", "bike", "boat", "kite", "ball", "hat", "lamp", "cup", "book", "bag", "truck",
    "van", "scooter", "umbrella", "scarf", "coat", "clock", "vase", "guitar", "drum",
    "wagon", "sled", "jacket", "teapot",
)  # fmt: skip
PLACES: tuple[str, ...] = (
    "park", "school", "market", "beach", "library", "station", "garden", "museum", "harbour",
    "bakery", "farm", "zoo", "lake", "village", "castle", "forest", "bridge", "square",
)  # fmt: skip
#: Headline events: past tense → headline (present) tense.
EVENTS: dict[str, str] = {
    "found": "finds", "lost": "loses", "bought": "buys", "sold": "sells", "painted": "paints",
    "fixed": "fixes", "built": "builds", "washed": "washes", "won": "wins",
    "dropped": "drops", "hid": "hides", "borrowed": "borrows",
}  # fmt: skip

# --- sentence shapes ---------------------------------------------------------------
_REST_VERBS = (
    "sat on", "slept on", "lay on", "rested on", "climbed onto", "jumped onto", "stayed on",
    "napped on", "curled up on", "settled on",
)  # fmt: skip
# {a} = animal noun phrase, {t} = thing noun phrase, {v} = a resting verb, {j} = adjective.
_PRONOUN_TEMPLATES = (
    "The {a} {v} the {t} because it was {j}.",
    "The {a} {v} the {t}, because it was {j}.",
    "Because it was {j}, the {a} {v} the {t}.",
    "The {t} was perfect for the {a} because it was {j}.",
    "The {a} chose the {t} because it was {j}.",
)
_AGREEMENT_TEMPLATES = (
    "The {s} near the {o} {c} {j}.",
    "The {s} behind the {o} {c} {j}.",
    "The {s} with the {o} {c} {j}.",
    "The {s} that chased the {o} {c} {j}.",
    "The {s} that the {o} watched {c} {j}.",
    "The {s} that followed the {o} {c} really {j}.",
)
_COPULAS = {"singular": ("is", "was"), "plural": ("are", "were")}
_ACTIVE = "The {a} {v} the {p}."
_PASSIVE = "The {p} was {v} by the {a}."
_QA_FACTS = ("The {o} was {c}.", "{n} took the {o} to the {p}.")
_QA_QUESTIONS = {
    "color": "What color was the {o}?",
    "who": "Who took the {o}?",
    "where": "Where did {n} take the {o}?",
}
_EVENT = "{n} {e} the {c} {o} at the {p}."
_HEADLINE = "{n} {h} {o} at {p}"
_FILLERS = (
    "It was a {w} {d}.",
    "The {q} was {b}.",
    "{m} was {f}.",
    "Later, everyone went home.",
    "Nobody expected it.",
    "{m} smiled.",
)
_WEATHER = ("sunny", "rainy", "windy", "cold", "warm", "quiet", "grey")
_DAYTIME = ("morning", "afternoon", "evening", "day")
_BUSY = ("busy", "crowded", "empty", "noisy", "calm")
_FEELINGS = ("glad", "tired", "surprised", "busy", "proud")

_T = TypeVar("_T")


def _split_of(key: str, test_fraction: float = 0.1) -> str:
    """A stable (machine-independent) assignment of a content key to a split."""
    return "test" if zlib.crc32(key.encode()) % 1000 < test_fraction * 1000 else "train"


def _generate(
    num_examples: int, split: str, seed: int, make: Callable[[random.Random], tuple[str, _T]]
) -> list[_T]:
    """Call ``make`` until ``num_examples`` examples of ``split`` have been drawn."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if not isinstance(num_examples, int) or num_examples < 0:
        raise ValueError(f"num_examples: expected an int >= 0, got {num_examples!r}")
    # The split name enters the seed, so the two sides are drawn independently.
    rng = random.Random(f"{seed}/{split}")
    examples: list[_T] = []
    while len(examples) < num_examples:
        key, example = make(rng)
        if _split_of(key) == split:
            examples.append(example)
    return examples


def _noun_phrase(rng: random.Random, noun: str, p_modifier: float = 0.3) -> str:
    """``noun`` with an optional size and/or color in front ("small black cat")."""
    words = []
    if rng.random() < p_modifier:
        words.append(rng.choice(SIZES))
    if rng.random() < p_modifier:
        words.append(rng.choice(COLORS))
    return " ".join([*words, noun])


def _index(tokens: Sequence[str], word: str) -> int:
    """The position of a word that occurs exactly once (the grammar guarantees it)."""
    positions = [i for i, t in enumerate(tokens) if t == word]
    if len(positions) != 1:
        raise RuntimeError(f"toy-world grammar error: {word!r} occurs {len(positions)} times")
    return positions[0]


# --- pronoun resolution ---------------------------------------------------------
@dataclass(frozen=True)
class PronounExample:
    """A sentence with the pronoun "it" and the noun it refers to.

    Attributes:
        text: the sentence.
        tokens: its words and punctuation marks (as ``WordTokenizer`` splits them).
        animal: the animal noun; ``animal_index`` its position in ``tokens``.
        thing: the thing noun; ``thing_index`` its position in ``tokens``.
        adjective: the predicate adjective that decides the referent.
        answer: the referent of "it" (``animal`` or ``thing``).
        answer_index: the position of ``answer`` in ``tokens``.
        pronoun_index: the position of "it" in ``tokens``.
    """

    text: str
    tokens: tuple[str, ...]
    animal: str
    animal_index: int
    thing: str
    thing_index: int
    adjective: str
    answer: str
    answer_index: int
    pronoun_index: int


def pronoun_example(
    animal: str = "cat",
    thing: str = "mat",
    adjective: str = "comfortable",
    template: int = 0,
    verb: str = "sat on",
    animal_phrase: str | None = None,
    thing_phrase: str | None = None,
) -> PronounExample:
    """Build one pronoun sentence by hand, e.g. the book's "cat … mat … it".

    Args:
        animal: a key of ``ANIMALS``.
        thing: one of ``THINGS``.
        adjective: one of ``ANIMAL_ADJECTIVES`` (→ the animal) or
            ``THING_ADJECTIVES`` (→ the thing), optionally after an
            intensifier ("very hungry").
        template: which sentence shape (0 to 4).
        verb: the resting verb of templates 0–2 ("sat on", "slept on", ...).
        animal_phrase: the words for the animal (default: just ``animal``),
            e.g. ``"small black cat"``.
        thing_phrase: the words for the thing (default: just ``thing``).

    Returns:
        A :class:`PronounExample`.

    Example:
        >>> ex = pronoun_example("cat", "mat", "comfortable")
        >>> ex.text, ex.answer
        ('The cat sat on the mat because it was comfortable.', 'mat')
        >>> pronoun_example("cat", "mat", "hungry").answer
        'cat'

    Introduced in chapter 01 (why attention).
    """
    if animal not in ANIMALS:
        raise ValueError(f"animal: expected one of the toy world's animals, got {animal!r}")
    if thing not in THINGS:
        raise ValueError(f"thing: expected one of the toy world's things, got {thing!r}")
    bare = adjective.split()[-1]
    if bare in ANIMAL_ADJECTIVES:
        answer = animal
    elif bare in THING_ADJECTIVES:
        answer = thing
    else:
        raise ValueError(
            f"adjective: expected one of ANIMAL_ADJECTIVES or THING_ADJECTIVES, got {adjective!r}"
        )
    if not 0 <= template < len(_PRONOUN_TEMPLATES):
        raise ValueError(f"template: expected 0..{len(_PRONOUN_TEMPLATES) - 1}, got {template!r}")
    if verb not in _REST_VERBS:
        raise ValueError(f"verb: expected one of {_REST_VERBS}, got {verb!r}")
    text = _PRONOUN_TEMPLATES[template].format(
        a=animal_phrase or animal, t=thing_phrase or thing, v=verb, j=adjective
    )
    text = text[0].upper() + text[1:]
    tokens = tuple(split_words(text))
    return PronounExample(
        text=text,
        tokens=tokens,
        animal=animal,
        animal_index=_index(tokens, animal),
        thing=thing,
        thing_index=_index(tokens, thing),
        adjective=bare,
        answer=answer,
        answer_index=_index(tokens, answer),
        pronoun_index=_index(tokens, "it"),
    )


def pronoun_examples(
    num_examples: int, split: str = "train", seed: int = 0
) -> list[PronounExample]:
    """Random pronoun-resolution sentences; half refer to the animal, half to the thing.

    Args:
        num_examples: how many sentences.
        split: ``"train"`` or ``"test"``; an (animal, thing, adjective) triple
            is always on the same side.
        seed: the random seed.

    Returns:
        A list of :class:`PronounExample`.

    Example:
        >>> for ex in pronoun_examples(2, seed=1):
        ...     print(ex.text, "->", ex.answer)
        The little blue dog curled up on the yellow couch, because it was thirsty. -> dog
        The wolf settled on the chair, because it was curious. -> wolf

    Introduced in chapter 10 (encoder-only).
    """

    def make(rng: random.Random) -> tuple[str, PronounExample]:
        animal = rng.choice(list(ANIMALS))
        thing = rng.choice(THINGS)
        adjectives = ANIMAL_ADJECTIVES if rng.random() < 0.5 else THING_ADJECTIVES
        adjective = rng.choice(adjectives)
        phrase = f"{rng.choice(INTENSIFIERS)} {adjective}" if rng.random() < 0.2 else adjective
        example = pronoun_example(
            animal,
            thing,
            phrase,
            template=rng.randrange(len(_PRONOUN_TEMPLATES)),
            verb=rng.choice(_REST_VERBS),
            animal_phrase=_noun_phrase(rng, animal),
            thing_phrase=_noun_phrase(rng, thing),
        )
        return f"{animal}|{thing}|{adjective}", example

    return _generate(num_examples, split, seed, make)


# --- subject-verb agreement ------------------------------------------------------------
@dataclass(frozen=True)
class AgreementExample:
    """A sentence whose verb agrees with a subject separated from it by another noun.

    Attributes:
        text: the sentence.
        tokens: its words and punctuation marks.
        subject: the subject noun as written (singular or plural form).
        attractor: the other noun, between subject and verb.
        number: ``"singular"`` or ``"plural"``, the subject's number.
        verb: the verb that agrees with the subject ("is", "are", "was", "were").
        verb_index: the position of the verb in ``tokens`` (mask it to ask the question).
    """

    text: str
    tokens: tuple[str, ...]
    subject: str
    attractor: str
    number: str
    verb: str
    verb_index: int


def agreement_examples(
    num_examples: int, split: str = "train", seed: int = 0
) -> list[AgreementExample]:
    """Random agreement sentences; in half of them the attractor's number differs.

    Args:
        num_examples: how many sentences.
        split: ``"train"`` or ``"test"`` (by subject–attractor pair).
        seed: the random seed.

    Returns:
        A list of :class:`AgreementExample`.

    Example:
        >>> ex = agreement_examples(1, seed=3)[0]
        >>> ex.text, ex.verb
        ('The lion that the mice watched is bored.', 'is')

    Introduced in chapter 10 (encoder-only).
    """

    def make(rng: random.Random) -> tuple[str, AgreementExample]:
        subject, attractor = rng.sample(list(ANIMALS), 2)
        number = rng.choice(("singular", "plural"))
        # Half the time the attractor has the other number: the hard cases.
        flipped = {"singular": "plural", "plural": "singular"}[number]
        other = number if rng.random() < 0.5 else flipped
        s = subject if number == "singular" else ANIMALS[subject]
        o = attractor if other == "singular" else ANIMALS[attractor]
        verb = rng.choice(_COPULAS[number])
        template = rng.choice(_AGREEMENT_TEMPLATES)
        text = template.format(s=s, o=o, c=verb, j=rng.choice(ANIMAL_ADJECTIVES))
        tokens = tuple(split_words(text))
        example = AgreementExample(text, tokens, s, o, number, verb, _index(tokens, verb))
        return f"{subject}|{attractor}", example

    return _generate(num_examples, split, seed, make)


# --- word order ----------------------------------------------------------------
@dataclass(frozen=True)
class WordOrderExample:
    """Who did what to whom: the same words, different roles.

    Attributes:
        text: the sentence.
        tokens: its words and punctuation marks.
        agent: who did it; ``agent_index`` its position in ``tokens``.
        patient: to whom; ``patient_index`` its position in ``tokens``.
        verb: the past-tense verb ("bit"), also for passive sentences.
        voice: ``"active"`` ("The dog bit the man.") or ``"passive"``
            ("The man was bitten by the dog.").
    """

    text: str
    tokens: tuple[str, ...]
    agent: str
    agent_index: int
    patient: str
    patient_index: int
    verb: str
    voice: str


def _word_order(
    agent: str, patient: str, verb: str, voice: str, agent_phrase: str, patient_phrase: str
) -> WordOrderExample:
    if verb not in VERBS:
        raise ValueError(f"verb: expected one of {sorted(VERBS)}, got {verb!r}")
    if voice not in ("active", "passive"):
        raise ValueError(f"voice: expected 'active' or 'passive', got {voice!r}")
    if agent == patient:
        raise ValueError(f"agent and patient: expected two different nouns, got {agent!r} twice")
    template, form = (_ACTIVE, verb) if voice == "active" else (_PASSIVE, VERBS[verb])
    text = template.format(a=agent_phrase, p=patient_phrase, v=form)
    tokens = tuple(split_words(text))
    return WordOrderExample(
        text, tokens, agent, _index(tokens, agent), patient, _index(tokens, patient), verb, voice
    )


def word_order_pair(
    first: str = "dog", second: str = "man", verb: str = "bit"
) -> tuple[WordOrderExample, WordOrderExample]:
    """The two sentences with the same words and swapped roles.

    Args:
        first: the agent of the first sentence (the patient of the second).
        second: the patient of the first sentence (the agent of the second).
        verb: a past-tense verb of ``VERBS``.

    Returns:
        ("The dog bit the man.", "The man bit the dog.") as examples.

    Example:
        >>> a, b = word_order_pair()
        >>> a.text, a.agent, b.text, b.agent
        ('The dog bit the man.', 'dog', 'The man bit the dog.', 'man')
        >>> sorted(a.tokens) == sorted(b.tokens)
        True

    Introduced in chapter 08 (positional encoding).
    """
    return (
        _word_order(first, second, verb, "active", first, second),
        _word_order(second, first, verb, "active", second, first),
    )


def word_order_examples(
    num_examples: int, split: str = "train", seed: int = 0, passive: float = 0.3
) -> list[WordOrderExample]:
    """Random agent–verb–patient sentences over animals and people.

    Args:
        num_examples: how many sentences.
        split: ``"train"`` or ``"test"`` (by agent–patient–verb triple).
        seed: the random seed.
        passive: the share of passive sentences.

    Returns:
        A list of :class:`WordOrderExample`.

    Example:
        >>> [ex.text for ex in word_order_examples(2, seed=0, passive=0.5)]
        ['The tiger licked the cat.', 'The otter pulled the camel.']

    Introduced in chapter 08 (positional encoding).
    """
    if not 0.0 <= passive <= 1.0:
        raise ValueError(f"passive: expected a share in [0, 1], got {passive!r}")
    nouns = [*ANIMALS, *PEOPLE]

    def make(rng: random.Random) -> tuple[str, WordOrderExample]:
        agent, patient = rng.sample(nouns, 2)
        verb = rng.choice(list(VERBS))
        voice = "passive" if rng.random() < passive else "active"
        example = _word_order(
            agent,
            patient,
            verb,
            voice,
            _noun_phrase(rng, agent, 0.2),
            _noun_phrase(rng, patient, 0.2),
        )
        return f"{agent}|{patient}|{verb}", example

    return _generate(num_examples, split, seed, make)


# --- question answering -------------------------------------------------------------
@dataclass(frozen=True)
class QAExample:
    """A short story, a question about it and the answer, a word of the story.

    Attributes:
        context: the story.
        question: the question ("What color was the car?").
        answer: the answer word.
        answer_start: the character offset of the answer in ``context``
            (``context[answer_start:answer_start + len(answer)] == answer``).
        answer_index: the position of the answer among the story's words.
        kind: ``"color"``, ``"who"`` or ``"where"``.
    """

    context: str
    question: str
    answer: str
    answer_start: int
    answer_index: int
    kind: str


def qa_examples(
    num_examples: int,
    split: str = "train",
    seed: int = 0,
    num_objects: int | tuple[int, int] = (2, 3),
) -> list[QAExample]:
    """Random stories about objects, their colors, who took them where, with questions.

    Every object in a story has its own color, person and place, so each
    answer is one word that occurs once.

    Args:
        num_examples: how many stories.
        split: ``"train"`` or ``"test"`` (by story).
        seed: the random seed.
        num_objects: objects per story (an int or an inclusive range).

    Returns:
        A list of :class:`QAExample`.

    Example:
        >>> ex = qa_examples(1, seed=0, num_objects=2)[0]
        >>> for sentence in ex.context.split(". "):
        ...     print(sentence)
        The car was grey
        The teapot was blue
        Lucy took the car to the harbour
        Sam took the teapot to the park.
        >>> ex.question, ex.answer
        ('Where did Sam take the teapot?', 'park')

    Introduced in chapter 13 (applications).
    """
    lo, hi = (num_objects, num_objects) if isinstance(num_objects, int) else num_objects
    if not 1 <= lo <= hi <= len(COLORS):
        raise ValueError(f"num_objects: expected an int or range within [1, 11], got {num_objects}")

    def make(rng: random.Random) -> tuple[str, QAExample]:
        k = rng.randint(lo, hi)
        objects, colors = rng.sample(OBJECTS, k), rng.sample(COLORS, k)
        names, places = rng.sample(NAMES, k), rng.sample(PLACES, k)
        facts = []
        for o, c, n, p in zip(objects, colors, names, places, strict=True):
            facts.append(_QA_FACTS[0].format(o=o, c=c))
            facts.append(_QA_FACTS[1].format(o=o, n=n, p=p))
        rng.shuffle(facts)
        context = " ".join(facts)
        i = rng.randrange(k)
        kind = rng.choice(list(_QA_QUESTIONS))
        question = _QA_QUESTIONS[kind].format(o=objects[i], n=names[i])
        answer = {"color": colors[i], "who": names[i], "where": places[i]}[kind]
        tokens = split_words(context)
        index = _index(tokens, answer)
        # The answer is a whole word; its character offset is where that word starts.
        start = len(join_words(tokens[:index])) + (1 if index else 0)
        return context, QAExample(context, question, answer, start, index, kind)

    return _generate(num_examples, split, seed, make)


# --- headlines -----------------------------------------------------------------
@dataclass(frozen=True)
class HeadlineExample:
    """A short story and the headline of its one event.

    Attributes:
        story: a few sentences; exactly one reports an event ("Anna found the
            red kite at the park.").
        headline: that event in headline style: present tense, no articles,
            no color ("Anna finds kite at park").
    """

    story: str
    headline: str


def headline_examples(
    num_examples: int, split: str = "train", seed: int = 0
) -> list[HeadlineExample]:
    """Random short stories with their headlines (a tiny summarisation task).

    Args:
        num_examples: how many stories.
        split: ``"train"`` or ``"test"`` (by story).
        seed: the random seed.

    Returns:
        A list of :class:`HeadlineExample`.

    Example:
        >>> ex = headline_examples(1, seed=2)[0]
        >>> print(ex.story)
        Kate hid the blue cup at the castle. Nobody expected it. Later, everyone went home.
        >>> ex.headline
        'Kate hides cup at castle'

    Introduced in chapter 13 (applications).
    """

    def filler(rng: random.Random, person: str) -> str:
        return rng.choice(_FILLERS).format(
            w=rng.choice(_WEATHER),
            d=rng.choice(_DAYTIME),
            q=rng.choice(PLACES),
            b=rng.choice(_BUSY),
            m=rng.choice([person, rng.choice(NAMES)]),
            f=rng.choice(_FEELINGS),
        )

    def make(rng: random.Random) -> tuple[str, HeadlineExample]:
        name, obj, place = rng.choice(NAMES), rng.choice(OBJECTS), rng.choice(PLACES)
        past = rng.choice(list(EVENTS))
        event = _EVENT.format(n=name, e=past, c=rng.choice(COLORS), o=obj, p=place)
        before = [filler(rng, name) for _ in range(rng.randint(0, 2))]
        after = [filler(rng, name) for _ in range(rng.randint(0, 2))]
        story = " ".join([*before, event, *after])
        headline = _HEADLINE.format(n=name, h=EVENTS[past], o=obj, p=place)
        return story, HeadlineExample(story, headline)

    return _generate(num_examples, split, seed, make)


# --- vocabulary -----------------------------------------------------------------
def _template_words(templates: Sequence[str]) -> set[str]:
    """The literal words of format strings (their {fields} left out)."""
    words: set[str] = set()
    for template in templates:
        for literal, _field, _spec, _conv in string.Formatter().parse(template):
            words.update(split_words(literal))
    return words


@lru_cache(maxsize=1)
def toyworld_tokenizer() -> WordTokenizer:
    """A word tokenizer covering every word and mark the toy-world grammar can write.

    Example:
        >>> tok = toyworld_tokenizer()
        >>> text = "The cat sat on the mat because it was comfortable."
        >>> tok.decode(tok.encode(text)) == text
        True

    Introduced in chapter 10 (encoder-only).
    """
    words = _template_words(
        [
            *_PRONOUN_TEMPLATES,
            *_AGREEMENT_TEMPLATES,
            _ACTIVE,
            _PASSIVE,
            *_QA_FACTS,
            *_QA_QUESTIONS.values(),
            _EVENT,
            _HEADLINE,
            *_FILLERS,
        ]
    )
    for group in (
        ANIMALS,
        ANIMALS.values(),
        THINGS,
        ANIMAL_ADJECTIVES,
        THING_ADJECTIVES,
        SIZES,
        COLORS,
        INTENSIFIERS,
        PEOPLE,
        VERBS,
        VERBS.values(),
        NAMES,
        OBJECTS,
        PLACES,
        EVENTS,
        EVENTS.values(),
        _WEATHER,
        _DAYTIME,
        _BUSY,
        _FEELINGS,
        *_COPULAS.values(),
    ):
        words.update(group)
    for phrase in _REST_VERBS:
        words.update(split_words(phrase))
    # Sentence-initial capitals of words that can start a sentence.
    words.update(w.capitalize() for w in list(words) if w.islower())
    return WordTokenizer(sorted(words))
