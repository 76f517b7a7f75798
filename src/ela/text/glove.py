"""Word vectors from a GloVe-format text file: one ``word v1 … vD`` line per word.

The papers initialise the text encoder's embedding with the 300-d GloVe vectors; any table in
that format works (the dimension is read from the first line). Only the words of a given
vocabulary are kept, so large tables stream through without filling memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ela.errors import DataFormatError
from ela.text.tokenize import Vocabulary


def read_glove(path: str | Path, words: set[str] | None = None) -> dict[str, np.ndarray]:
    """{word: (D,) float32} of the GloVe-format file `path` (only `words` when given).

    Raises DataFormatError naming the file and line for a malformed line or a line whose
    dimension differs from the first.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "no such word-vector file")
    table: dict[str, np.ndarray] = {}
    dim = None
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            for line_no, line in enumerate(fh, start=1):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if len(parts) < 2:
                    if line.strip():
                        raise DataFormatError(path, "expected 'word v1 ... vD'", line_no)
                    continue
                if dim is None:
                    dim = len(parts) - 1
                elif len(parts) - 1 != dim:
                    raise DataFormatError(path, f"{len(parts) - 1} values, the first line "
                                                f"has {dim}", line_no)
                if words is not None and parts[0] not in words:
                    continue
                try:
                    table[parts[0]] = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    raise DataFormatError(path, "non-numeric vector value", line_no) from None
        except UnicodeDecodeError as err:
            raise DataFormatError(path, f"not UTF-8 text ({err.reason})") from None
    if dim is None:
        raise DataFormatError(path, "file holds no vectors")
    return table


def embedding_matrix(vocab: Vocabulary, path: str | Path,
                     seed: int = 0) -> tuple[np.ndarray, int]:
    """((len(vocab), D) float32 initial embedding, number of vocabulary words found).

    Found words get their vectors; the others small random vectors with the table's scale;
    padding (id 0) is zero.
    """
    table = read_glove(path, set(vocab.words))
    dim = len(next(iter(table.values()))) if table else len(_first_vector(path))
    scale = float(np.std(np.stack(list(table.values())))) if table else 0.1
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, scale, (len(vocab), dim)).astype(np.float32)
    for word, vec in table.items():
        out[vocab.index[word]] = vec
    out[0] = 0.0
    return out, len(table)


def _first_vector(path: str | Path) -> list[str]:
    with Path(path).open(encoding="utf-8") as fh:
        return fh.readline().split(" ")[1:]
