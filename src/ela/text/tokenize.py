"""Transcripts → tokens → integer ids, with a vocabulary that is saved beside a model.

Tokens follow GloVe's (Stanford tokenizer, lower-cased) conventions closely enough for its
tables: lower-case words with inner apostrophes and hyphens kept ("don't", "well-known"),
numbers, and every other non-space character as a token of its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from ela.errors import ElaError

PAD, UNK = "<pad>", "<unk>"
_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens of `text`: "Don't go!" → ["don't", "go", "!"]."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


class Vocabulary:
    """Token ↔ id table; id 0 is padding, id 1 the unknown token."""

    def __init__(self, words: Sequence[str]):
        words = list(words)
        if words[:2] != [PAD, UNK]:
            raise ElaError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {words[:2]}")
        if len(set(words)) != len(words):
            raise ElaError("vocabulary words must be unique")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Vocabulary of the tokens seen at least `min_count` times, most frequent first."""
        counts = Counter(t for text in texts for t in tokenize(text))
        kept = sorted((w for w, c in counts.items() if c >= min_count),
                      key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (unknown tokens → 1)."""
        return [self.index.get(t, 1) for t in tokenize(text)]
