"""Data for the book, all generated locally and seeded: no downloads.

* ``attnbook.data.tokenizers`` — :class:`CharTokenizer`, :class:`WordTokenizer`;
* ``attnbook.data.batching`` — padding with masks, mini-batches;
* ``attnbook.data.tasks`` — copy, reverse, sort, associative recall;
* ``attnbook.data.dates`` — human dates → ISO dates, held-out by date;
* ``attnbook.data.toyworld`` — toy-world English with known answers;
* ``attnbook.data.text`` — character-level text from ``pydoc_data.topics``.

Every name is re-exported here, so ``from attnbook.data import CharTokenizer`` works.

Example:
    >>> from attnbook.data import pronoun_example, toyworld_tokenizer
    >>> ex = pronoun_example("cat", "mat", "hungry")
    >>> ex.text, ex.answer
    ('The cat sat on the mat because it was hungry.', 'cat')
    >>> toyworld_tokenizer().encode_batch([ex.text, "The cat sat."]).padding_mask.sum(1)
    tensor([11,  4])

Introduced in chapter 10 (encoder-only).
"""

from attnbook.data.batching import Batch, minibatches, pad_sequences, sample_batch, shift_right
from attnbook.data.dates import (
    DATE_FORMATS,
    DateExample,
    date_examples,
    date_split,
    date_tokenizer,
    format_date,
)
from attnbook.data.tasks import SEQUENCE_TASKS, TaskExample, sequence_task, task_tokenizer
from attnbook.data.text import lm_windows, pydoc_splits, pydoc_text, random_windows
from attnbook.data.tokenizers import (
    SPECIAL_TOKENS,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    join_words,
    split_words,
)
from attnbook.data.toyworld import (
    AgreementExample,
    HeadlineExample,
    PronounExample,
    QAExample,
    WordOrderExample,
    agreement_examples,
    headline_examples,
    pronoun_example,
    pronoun_examples,
    qa_examples,
    toyworld_tokenizer,
    word_order_examples,
    word_order_pair,
)

__all__ = [
    "DATE_FORMATS",
    "SEQUENCE_TASKS",
    "SPECIAL_TOKENS",
    "AgreementExample",
    "Batch",
    "CharTokenizer",
    "DateExample",
    "HeadlineExample",
    "PronounExample",
    "QAExample",
    "TaskExample",
    "Tokenizer",
    "WordOrderExample",
    "WordTokenizer",
    "agreement_examples",
    "date_examples",
    "date_split",
    "date_tokenizer",
    "format_date",
    "headline_examples",
    "join_words",
    "lm_windows",
    "minibatches",
    "pad_sequences",
    "pronoun_example",
    "pronoun_examples",
    "pydoc_splits",
    "pydoc_text",
    "qa_examples",
    "random_windows",
    "sample_batch",
    "sequence_task",
    "shift_right",
    "split_words",
    "task_tokenizer",
    "toyworld_tokenizer",
    "word_order_examples",
    "word_order_pair",
]
