"""Transcripts for multimodal emotion recognition: tokeniser, vocabulary, GloVe vectors."""

from ela.text.glove import embedding_matrix, read_glove
from ela.text.tokenize import PAD, UNK, Vocabulary, tokenize

__all__ = ["PAD", "UNK", "Vocabulary", "embedding_matrix", "read_glove", "tokenize"]
