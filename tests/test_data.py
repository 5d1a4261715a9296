"""Tests for attnbook.data: tokenizers, batching, and generators checked independently."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnbook.data import (
    DATE_FORMATS,
    SPECIAL_TOKENS,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    agreement_examples,
    date_examples,
    date_split,
    date_tokenizer,
    format_date,
    headline_examples,
    lm_windows,
    minibatches,
    pad_sequences,
    pronoun_example,
    pronoun_examples,
    pydoc_splits,
    pydoc_text,
    qa_examples,
    random_windows,
    sample_batch,
    sequence_task,
    shift_right,
    task_tokenizer,
    toyworld_tokenizer,
    word_order_examples,
    word_order_pair,
)

# --- tokenizers ----------------------------------------------------------------


def test_char_tokenizer_round_trips_the_whole_pydoc_text() -> None:
    text = pydoc_text()
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.itos[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert tok.pad_id == 0


@given(st.text(alphabet=string.printable, max_size=60))
def test_char_tokenizer_round_trip_property(text: str) -> None:
    tok = CharTokenizer(string.printable)
    ids = tok.encode(text, add_bos=True, add_eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == text


_WORDS = st.sampled_from(["the", "cat", "sat", "Mat", "it", "was", "42", "a_b", ".", ",", "?"])


@given(st.lists(_WORDS, min_size=1, max_size=20))
def test_word_tokenizer_round_trip_on_canonical_text(words: list[str]) -> None:
    tok = WordTokenizer(["the", "cat", "sat", "Mat", "it", "was", "42", "a_b", ".", ",", "?"])
    text = tok.detokenize(words)
    assert tok.tokenize(text) == words
    assert tok.decode(tok.encode(text)) == text
    # Any spacing normalises to the canonical text.
    messy = "  ".join(words)
    assert tok.decode(tok.encode(messy)) == tok.normalize(messy) == text


def test_word_tokenizer_book_sentences() -> None:
    tok = toyworld_tokenizer()
    for text in [
        "The cat sat on the mat because it was comfortable.",
        "The dog bit the man.",
        "What color was the car?",
        "Because it was hungry, the cat sat on the mat.",
    ]:
        assert tok.decode(tok.encode(text)) == text


def test_unknown_token_is_refused_with_its_position() -> None:
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"text: unknown token 'z' at token position 2"):
        tok.encode("abz")
    with pytest.raises(ValueError, match="unknown token 'unicorn'"):
        toyworld_tokenizer().encode("The unicorn sat.")


def test_special_token_spelled_in_text_is_plain_text() -> None:
    tok = CharTokenizer.from_text("<pad>")
    assert tok.decode(tok.encode("<pad>")) == "<pad>"
    with pytest.raises(ValueError, match="clash with the special tokens"):
        Tokenizer(["<pad>"])


def test_tokenizer_construction_errors() -> None:
    with pytest.raises(ValueError, match="expected single characters, got 'ab'"):
        CharTokenizer(["ab"])
    with pytest.raises(ValueError, match=r"expected unique tokens, got duplicates \['a'\]"):
        CharTokenizer("aab")
    with pytest.raises(ValueError, match="expected a word or one punctuation mark"):
        WordTokenizer(["two words"])
    with pytest.raises(TypeError, match="text: expected str, got int"):
        CharTokenizer("a").encode(3)  # type: ignore[arg-type]


def test_decode_options_and_errors() -> None:
    tok = CharTokenizer("ab")
    ids = [tok.bos_id, *tok.encode("ab"), tok.eos_id, *tok.encode("ba")]
    assert tok.decode(ids) == "ab"
    assert tok.decode(ids, stop_at_eos=False) == "abba"
    assert tok.decode(torch.tensor(ids), skip_special=False, stop_at_eos=False) == (
        "<bos>ab<eos>ba"
    )
    with pytest.raises(ValueError, match=r"id 99 is outside the vocabulary \[0, 7\)"):
        tok.decode([99])
    with pytest.raises(ValueError, match=r"ids: expected a 1-D tensor, got shape \(1, 2\)"):
        tok.decode(torch.zeros(1, 2, dtype=torch.long))


def test_encode_batch_pads_and_masks() -> None:
    tok = CharTokenizer("abc")
    batch = tok.encode_batch(["abc", "a", ""], add_eos=True)
    assert batch.ids.shape == (3, 4)
    assert batch.lengths.tolist() == [4, 2, 1]
    assert batch.padding_mask.tolist() == [
        [True, True, True, True],
        [True, True, False, False],
        [True, False, False, False],
    ]
    assert (batch.ids[~batch.padding_mask] == tok.pad_id).all()
    assert tok.decode_batch(batch.ids) == ["abc", "a", ""]
    with pytest.raises(ValueError, match="longest sequence has 4 tokens, more than max_len=3"):
        tok.encode_batch(["abc"], add_bos=True, max_len=3)


def test_tokenizer_save_and_restore() -> None:
    for tok in (CharTokenizer("xyz"), toyworld_tokenizer()):
        state = tok.to_dict()
        again = Tokenizer.from_dict(state)
        assert again == tok and type(again) is type(tok)
    with pytest.raises(ValueError, match=r"state\['kind'\]: expected one of"):
        Tokenizer.from_dict({"kind": "bpe", "tokens": []})


# --- batching --------------------------------------------------------------------


def test_pad_sequences_and_shift_right() -> None:
    batch = pad_sequences([torch.tensor([4, 5]), [6]], padding_value=0, max_len=3)
    assert batch.ids.tolist() == [[4, 5, 0], [6, 0, 0]]
    assert batch.padding_mask.dtype == torch.bool
    assert shift_right(batch.ids, bos_id=1).tolist() == [[1, 4, 5], [1, 6, 0]]
    with pytest.raises(ValueError, match="expected at least one sequence"):
        pad_sequences([])
    with pytest.raises(ValueError, match=r"tgt: expected shape \(N, T\)"):
        shift_right(torch.zeros(3, dtype=torch.long), 1)


def test_minibatches_visit_every_row_once_and_sampling_is_seeded() -> None:
    x = torch.arange(10)
    seen = torch.cat([b for (b,) in minibatches(x, batch_size=3, shuffle=True)])
    assert sorted(seen.tolist()) == list(range(10))
    assert len(list(minibatches(x, batch_size=3, drop_last=True))) == 3
    a = sample_batch(x, batch_size=4, generator=torch.Generator().manual_seed(1))
    b = sample_batch(x, batch_size=4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0])
    with pytest.raises(ValueError, match="tensor 0 has 10 rows but tensor 1 has 3"):
        sample_batch(x, torch.arange(3), batch_size=2)
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1, got 0"):
        next(minibatches(x, batch_size=0))


# --- sequence tasks --------------------------------------------------------------


@pytest.mark.parametrize("task", ["copy", "reverse", "sort"])
def test_sequence_task_targets(task: str) -> None:
    examples = sequence_task(task, 200, length=(3, 12), seed=5)
    assert examples == sequence_task(task, 200, length=(3, 12), seed=5)
    for ex in examples:
        assert 3 <= len(ex.source) <= 12 and set(ex.source) <= set("abcdefghij")
        assert len(ex.target) == len(ex.source)
        if task == "copy":
            assert ex.target == ex.source
        elif task == "reverse":
            assert all(ex.target[i] == ex.source[-1 - i] for i in range(len(ex.source)))
        else:
            assert all(a <= b for a, b in zip(ex.target, ex.target[1:], strict=False))
            assert sorted(ex.target) == sorted(ex.source)


def test_recall_answers_are_the_value_of_the_asked_key() -> None:
    tok = task_tokenizer()
    for ex in sequence_task("recall", 200, length=(2, 20), seed=3):
        body, key = ex.source.split("?")
        pairs = re.findall(r"([a-z])([0-9])", body)
        assert "".join(k + v for k, v in pairs) == body
        keys = [k for k, _ in pairs]
        assert len(set(keys)) == len(keys)
        assert ex.target == dict(pairs)[key]
        assert tok.decode(tok.encode(ex.source)) == ex.source


def test_sequence_task_errors() -> None:
    with pytest.raises(ValueError, match="task: expected one of"):
        sequence_task("shuffle", 1)
    with pytest.raises(ValueError, match="length: expected an int >= 1 or a pair"):
        sequence_task("copy", 1, length=(5, 2))
    with pytest.raises(ValueError, match="at most 26 distinct keys, got 30"):
        sequence_task("recall", 1, length=30)
    with pytest.raises(ValueError, match="alphabet: expected lowercase letters and digits"):
        sequence_task("copy", 1, alphabet="AB")


# --- dates -------------------------------------------------------------------

# An independent reading of every format with datetime.strptime (English C locale).
_STRPTIME = {
    "Month D, YYYY": "%B %d, %Y",
    "D Month YYYY": "%d %B %Y",
    "M/D/YY": "%m/%d/%y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "Weekday Dth of Month YYYY": "%A %d of %B %Y",
    "Weekday, Month D, YYYY": "%A, %B %d, %Y",
    "Wkd, Mon D, YYYY": "%a, %b %d, %Y",
    "D Mon YYYY": "%d %b %Y",
    "Mon D YY": "%b %d %y",
    "Month Dth, YYYY": "%B %d, %Y",
    "the Dth of Month, YYYY": "the %d of %B, %Y",
    "MONTH D, YYYY": "%B %d, %Y",
    "D Month YY": "%d %B %y",
    "YYYYMMDD": "%Y%m%d",
}


def _parse_human_date(text: str, fmt: str) -> dt.date:
    # strptime has no ordinal suffixes: drop "st", "nd", "rd", "th" after a day number.
    plain = re.sub(r"\b(\d{1,2})(st|nd|rd|th)\b", r"\1", text)
    return dt.datetime.strptime(plain, _STRPTIME[fmt]).date()


def test_every_format_is_checked() -> None:
    assert set(_STRPTIME) == set(DATE_FORMATS)


@pytest.mark.parametrize("split", ["train", "test"])
def test_date_examples_parse_back_to_their_iso_date(split: str) -> None:
    tok = date_tokenizer()
    examples = date_examples(1500, split, seed=7)
    assert examples == date_examples(1500, split, seed=7)
    assert {ex.format for ex in examples} == set(DATE_FORMATS)
    for ex in examples:
        parsed = _parse_human_date(ex.text, ex.format)
        assert parsed.isoformat() == ex.iso, ex
        if "Weekday" in ex.format or "Wkd" in ex.format:
            assert ex.text.startswith(parsed.strftime("%A" if "Weekday" in ex.format else "%a"))
        assert tok.decode(tok.encode(ex.text)) == ex.text
        assert tok.decode(tok.encode(ex.iso)) == ex.iso


def test_date_split_holds_out_whole_days() -> None:
    train, test = date_split()
    assert not set(train) & set(test)
    assert 0.09 < len(test) / (len(train) + len(test)) < 0.11
    test_days = {d.isoformat() for d in test}
    assert all(ex.iso in test_days for ex in date_examples(300, "test", seed=1))
    assert not any(ex.iso in test_days for ex in date_examples(3000, "train", seed=1))


def test_date_book_examples_and_errors() -> None:
    day = dt.date(2021, 3, 3)
    assert format_date(day, "Month D, YYYY") == "March 3, 2021"
    assert format_date(day, "M/D/YY") == "3/3/21"
    assert format_date(day, "Weekday Dth of Month YYYY") == "Wednesday 3rd of March 2021"
    assert format_date(dt.date(2011, 11, 11), "Month Dth, YYYY") == "November 11th, 2011"
    assert (
        format_date(dt.date(2022, 1, 22), "the Dth of Month, YYYY") == "the 22nd of January, 2022"
    )
    with pytest.raises(ValueError, match="fmt: expected one of"):
        format_date(day, "ISO")
    with pytest.raises(ValueError, match="date: expected a date from 1970-01-01 to 2068-12-31"):
        format_date(dt.date(2100, 1, 1), "M/D/YY")
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', got 'val'"):
        date_examples(1, "val")
    with pytest.raises(ValueError, match="formats: unknown format 'x'"):
        date_examples(1, formats=["x"])


# --- toy world -------------------------------------------------------------------

# An independent judge of "it": a few adjectives checked by hand, by what they can describe.
_DESCRIBES_A_CREATURE = {"hungry", "sleepy", "thirsty", "scared", "tired", "grumpy"}
_DESCRIBES_A_RESTING_PLACE = {"comfortable", "soft", "sturdy", "spacious", "flat", "cozy"}


def test_pronoun_book_examples() -> None:
    ex = pronoun_example("cat", "mat", "comfortable")
    assert ex.text == "The cat sat on the mat because it was comfortable."
    assert ex.answer == "mat" and ex.tokens[ex.answer_index] == "mat"
    assert ex.tokens[ex.pronoun_index] == "it"
    assert pronoun_example("cat", "mat", "hungry").answer == "cat"


def test_pronoun_answers_agree_with_an_independent_judge() -> None:
    examples = pronoun_examples(2000, seed=0)
    judged = 0
    for ex in examples:
        assert list(ex.tokens) == re.findall(r"\w+|[^\w\s]", ex.text)
        assert ex.tokens[ex.pronoun_index] == "it"
        assert ex.tokens[ex.animal_index] == ex.animal and ex.tokens[ex.thing_index] == ex.thing
        assert ex.tokens[ex.answer_index] == ex.answer
        assert re.search(r"it was (?:\w+ )?(\w+)[.,]", ex.text).group(1) == ex.adjective  # type: ignore[union-attr]
        if ex.adjective in _DESCRIBES_A_CREATURE:
            assert ex.answer == ex.animal
            judged += 1
        elif ex.adjective in _DESCRIBES_A_RESTING_PLACE:
            assert ex.answer == ex.thing
            judged += 1
    assert judged > 300
    # Balanced classes and varied sentences: not memorisable.
    share = sum(ex.answer == ex.animal for ex in examples) / len(examples)
    assert 0.45 < share < 0.55
    assert len({ex.text for ex in examples}) > 0.95 * len(examples)


def test_toyworld_splits_hold_out_combinations() -> None:
    def key(ex: object) -> tuple[str, str, str]:
        return (ex.animal, ex.thing, ex.adjective)  # type: ignore[attr-defined]

    train = {key(ex) for ex in pronoun_examples(3000, "train", seed=0)}
    test = {key(ex) for ex in pronoun_examples(300, "test", seed=0)}
    assert not train & test
    assert pronoun_examples(50, "test", seed=4) == pronoun_examples(50, "test", seed=4)
    assert pronoun_examples(50, "test", seed=4) != pronoun_examples(50, "test", seed=5)
    wo_train = {(e.agent, e.patient, e.verb) for e in word_order_examples(2000, "train")}
    wo_test = {(e.agent, e.patient, e.verb) for e in word_order_examples(200, "test")}
    assert not wo_train & wo_test


# Independent number morphology: irregular plurals by hand, otherwise a final "s".
_IRREGULAR_PLURALS = {"mice", "geese", "wolves", "puppies", "ponies", "foxes"}


def _is_plural(noun: str) -> bool:
    return noun in _IRREGULAR_PLURALS or (noun.endswith("s") and not noun.endswith("ss"))


def test_agreement_verbs_agree_with_the_subject() -> None:
    examples = agreement_examples(1000, seed=2)
    mismatched = 0
    for ex in examples:
        subject = ex.tokens[1]  # "The <subject> ..."
        assert subject == ex.subject
        verb = ex.tokens[ex.verb_index]
        assert verb == ex.verb and verb in {"is", "are", "was", "were"}
        assert (verb in {"are", "were"}) == _is_plural(subject)
        assert ex.number == ("plural" if _is_plural(subject) else "singular")
        mismatched += _is_plural(subject) != _is_plural(ex.attractor)
    assert 0.4 < mismatched / len(examples) < 0.6


def test_word_order_roles_from_an_independent_parse() -> None:
    a, b = word_order_pair("dog", "man", "bit")
    assert (a.text, b.text) == ("The dog bit the man.", "The man bit the dog.")
    assert (a.agent, b.agent) == ("dog", "man")
    assert sorted(a.tokens) == sorted(b.tokens)
    active = re.compile(r"The (?:\w+ )*?(\w+) (\w+) the (?:\w+ )*?(\w+)\.")
    passive = re.compile(r"The (?:\w+ )*?(\w+) was (\w+) by the (?:\w+ )*?(\w+)\.")
    voices = set()
    for ex in word_order_examples(1000, seed=3, passive=0.5):
        voices.add(ex.voice)
        if " was " in ex.text and " by the " in ex.text:
            patient, _, agent = passive.fullmatch(ex.text).groups()  # type: ignore[union-attr]
        else:
            agent, verb, patient = active.fullmatch(ex.text).groups()  # type: ignore[union-attr]
            assert verb == ex.verb
        assert (agent, patient) == (ex.agent, ex.patient)
        assert ex.tokens[ex.agent_index] == agent and ex.tokens[ex.patient_index] == patient
    assert voices == {"active", "passive"}


def test_qa_answers_from_an_independent_reading_of_the_story() -> None:
    for ex in qa_examples(500, seed=1, num_objects=(2, 4)):
        colors = dict(re.findall(r"The (\w+) was (\w+)\.", ex.context))
        took = {
            o: (n, p) for n, o, p in re.findall(r"(\w+) took the (\w+) to the (\w+)\.", ex.context)
        }
        obj = re.search(r"the (\w+)\?$", ex.question).group(1)  # type: ignore[union-attr]
        if ex.question.startswith("What color"):
            expected = colors[obj]
        elif ex.question.startswith("Who"):
            expected = took[obj][0]
        else:
            expected = took[obj][1]
        assert ex.answer == expected
        assert ex.context[ex.answer_start : ex.answer_start + len(ex.answer)] == ex.answer
        assert re.findall(r"\w+|[^\w\s]", ex.context)[ex.answer_index] == ex.answer


_PRESENT = {
    "found": "finds",
    "lost": "loses",
    "bought": "buys",
    "sold": "sells",
    "painted": "paints",
    "fixed": "fixes",
    "built": "builds",
    "washed": "washes",
    "won": "wins",
    "dropped": "drops",
    "hid": "hides",
    "borrowed": "borrows",
}


def test_headlines_name_the_one_event() -> None:
    event = re.compile(r"(\w+) (\w+) the \w+ (\w+) at the (\w+)\.")
    for ex in headline_examples(500, seed=4):
        events = [m for m in event.findall(ex.story) if m[1] in _PRESENT]
        assert len(events) == 1, ex.story
        name, past, obj, place = events[0]
        assert ex.headline == f"{name} {_PRESENT[past]} {obj} at {place}"


def test_toyworld_tokenizer_covers_every_generator() -> None:
    tok = toyworld_tokenizer()
    texts = [e.text for e in pronoun_examples(300, seed=9)]
    texts += [e.text for e in agreement_examples(300, seed=9)]
    texts += [e.text for e in word_order_examples(300, seed=9, passive=0.5)]
    for e in qa_examples(200, seed=9):
        texts += [e.context, e.question]
    for e in headline_examples(200, seed=9):
        texts += [e.story, e.headline]
    for text in texts:
        assert tok.decode(tok.encode(text)) == text


def test_toyworld_errors() -> None:
    with pytest.raises(ValueError, match="animal: expected one of the toy world's animals"):
        pronoun_example("unicorn", "mat", "hungry")
    with pytest.raises(ValueError, match="adjective: expected one of ANIMAL_ADJECTIVES"):
        pronoun_example("cat", "mat", "purple")
    with pytest.raises(ValueError, match="num_examples: expected an int >= 0"):
        pronoun_examples(-1)
    with pytest.raises(ValueError, match="agent and patient: expected two different nouns"):
        word_order_pair("dog", "dog")
    with pytest.raises(ValueError, match="num_objects"):
        qa_examples(1, num_objects=(0, 2))


# --- text --------------------------------------------------------------------------


def test_pydoc_split_and_windows() -> None:
    train, val = pydoc_splits(0.1)
    assert train + val == pydoc_text() and len(val) > 10_000
    assert pydoc_splits(0.1) == (train, val)
    ids = torch.arange(1000)
    x, y = random_windows(ids, 16, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and torch.equal(y, x + 1)
    x, y = lm_windows(ids, 100)
    assert x.shape == (9, 100) and torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="block_size: expected 1 <= block_size < len"):
        lm_windows(ids, 1000)
    with pytest.raises(ValueError, match="val_fraction"):
        pydoc_splits(1.5)
