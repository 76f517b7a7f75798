"""Multimodal emotion recognition: MDRE, and SMERN / SERN / SERN-2s (papers 001 §III-C, 004 §4.2).

Phase 1, one encoder per modality:

- **ARE** (audio recurrent encoder): a GRU over the MFCC frames (N, A, 39); its final hidden
  state (at each sample's last valid frame) ⊕ the 35 prosodic features → FC + ReLU → A.
- **TRE** (text recurrent encoder): word embeddings (initialised from GloVe when given) → a
  GRU; its final hidden state → FC + ReLU → T.
- **skeleton**: SMACN (SMERN), S-STGCN (SERN) or 2s-S-STGCN (SERN-2s) from the registry; its
  penultimate features (N, D) are S.

Phase 2 (``fusion="two-phase"``, SMERN / SERN): each representation through its own FC +
ReLU (FC_A, FC_T, FC_S: "to change dimensions"), concatenated, dropout, FC → emotion.
MDRE (``fusion="concat"``) concatenates A and T and applies the output FC directly.
Dropping modalities (``modalities=["audio"]``, ``["text", "skeleton"]``, …) gives the
unimodal and bimodal rows of the papers' tables with the same code.

Input is a dict batch (`ela.data.manifest.ModalityBatch`) with ``mfcc`` (N, A, 39) and
``mfcc_length`` (N,), ``prosody`` (N, 35), ``tokens`` (N, L) int64 (0 = padding) and
``tokens_length`` (N,), ``skeleton`` (N, C, T, V, M): only the keys of the model's
modalities are read. MFCC and prosody are standardised inside the model with statistics
stored as buffers (`set_audio_stats`, fitted on the training part), so a checkpoint carries
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, register_model
from ela.skeleton.layout import Layout

MODALITIES = ("audio", "text", "skeleton")
FUSIONS = ("two-phase", "concat")


def _last_state(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, H) final hidden state of the top GRU layer at each sequence's valid length."""
    lengths = lengths.clamp(min=1, max=x.shape[1]).to("cpu", torch.int64)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, h = gru(packed)
    return h[-1]


class AudioEncoder(nn.Module):
    """ARE: (mfcc (N, A, F), lengths (N,), prosody (N, P)) → A (N, out_dim)."""

    def __init__(self, mfcc_dim: int, prosody_dim: int, hidden: int, out_dim: int,
                 layers: int = 1):
        super().__init__()
        self.gru = nn.GRU(mfcc_dim, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden + prosody_dim, out_dim)
        self.register_buffer("mfcc_mean", torch.zeros(mfcc_dim))
        self.register_buffer("mfcc_std", torch.ones(mfcc_dim))
        self.register_buffer("prosody_mean", torch.zeros(prosody_dim))
        self.register_buffer("prosody_std", torch.ones(prosody_dim))

    def forward(self, mfcc: torch.Tensor, lengths: torch.Tensor,
                prosody: torch.Tensor) -> torch.Tensor:
        m = (mfcc - self.mfcc_mean) / self.mfcc_std
        p = (prosody - self.prosody_mean) / self.prosody_std
        return torch.relu(self.fc(torch.cat([_last_state(self.gru, m, lengths), p], dim=1)))


class TextEncoder(nn.Module):
    """TRE: (tokens (N, L) int64, lengths (N,)) → T (N, out_dim)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden: int, out_dim: int,
                 layers: int = 1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.gru = nn.GRU(embed_dim, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, out_dim)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(_last_state(self.gru, self.embedding(tokens), lengths)))


class MultimodalEmotionNet(SkeletonModel):
    """Audio / text / skeleton emotion recognizer; see the module doc.

    Args:
        modalities: the modalities used (default: the model's, e.g. all three for SMERN).
        skeleton_model: registry name of the skeleton encoder (smacn, sstgcn, 2s-sstgcn).
        skeleton_cfg: options of the skeleton encoder (e.g. ``{"channels": [16, 32]}``).
        fusion: "two-phase" (per-modality FC, concatenate, FC) or "concat" (MDRE).
        vocab_size, embed_dim: word-embedding table (300-d GloVe in the papers).
        audio_hidden, text_hidden: GRU sizes. rep_dim: size of A and T.
        fusion_dim: output size of FC_A, FC_T, FC_S. dropout: before the output FC.
        mfcc_dim, prosody_dim: audio feature sizes (39, 35).
        gru_layers: layers of both GRUs.
    """

    default_modalities: tuple[str, ...] = MODALITIES
    default_skeleton = "smacn"
    default_fusion = "two-phase"

    def __init__(self, layout: Layout, num_classes: int, in_channels: int = 3,
                 modalities: Sequence[str] | None = None, skeleton_model: str | None = None,
                 skeleton_cfg: Mapping[str, Any] | None = None, fusion: str | None = None,
                 vocab_size: int = 2, embed_dim: int = 300, audio_hidden: int = 128,
                 text_hidden: int = 128, rep_dim: int = 128, fusion_dim: int = 128,
                 dropout: float = 0.3, mfcc_dim: int = 39, prosody_dim: int = 35,
                 gru_layers: int = 1):
        super().__init__(layout, num_classes, in_channels)
        mods = tuple(dict.fromkeys(modalities or self.default_modalities))
        if not mods or any(m not in MODALITIES for m in mods):
            raise ElaError(f"modalities must be a non-empty subset of {MODALITIES}, got "
                           f"{list(modalities or [])}")
        fusion = fusion or self.default_fusion
        if fusion not in FUSIONS:
            raise ElaError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if vocab_size < 2 and "text" in mods:
            raise ElaError(f"vocab_size must be at least 2 (padding, unknown), got {vocab_size}")
        self.modalities = mods
        self.fusion = fusion
        dims: dict[str, int] = {}
        if "audio" in mods:
            self.audio = AudioEncoder(mfcc_dim, prosody_dim, audio_hidden, rep_dim, gru_layers)
            dims["audio"] = rep_dim
        if "text" in mods:
            self.text = TextEncoder(vocab_size, embed_dim, text_hidden, rep_dim, gru_layers)
            dims["text"] = rep_dim
        if "skeleton" in mods:
            self.skeleton = create_model(skeleton_model or self.default_skeleton, layout,
                                         num_classes, in_channels, **dict(skeleton_cfg or {}))
            dims["skeleton"] = self._skeleton_dim()
        if fusion == "two-phase":
            self.project = nn.ModuleDict({m: nn.Linear(d, fusion_dim) for m, d in dims.items()})
            width = fusion_dim * len(mods)
        else:
            self.project = None
            width = sum(dims.values())
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(width, num_classes)

    def _skeleton_dim(self) -> int:
        was_training = self.skeleton.training
        self.skeleton.eval()
        with torch.no_grad():
            probe = torch.zeros(1, self.in_channels, 16, self.layout.num_joints, 1)
            dim = int(self.skeleton.features(probe).shape[1])
        self.skeleton.train(was_training)
        return dim

    def set_audio_stats(self, mfcc_mean: torch.Tensor, mfcc_std: torch.Tensor,
                        prosody_mean: torch.Tensor, prosody_std: torch.Tensor) -> None:
        """Store standardisation statistics (std below 1e-6 is treated as 1)."""
        if "audio" not in self.modalities:
            return
        enc = self.audio
        for name, value in (("mfcc_mean", mfcc_mean), ("prosody_mean", prosody_mean)):
            getattr(enc, name).copy_(torch.as_tensor(value, dtype=torch.float32))
        for name, value in (("mfcc_std", mfcc_std), ("prosody_std", prosody_std)):
            v = torch.as_tensor(value, dtype=torch.float32)
            getattr(enc, name).copy_(torch.where(v > 1e-6, v, torch.ones_like(v)))

    def set_embedding(self, weights: torch.Tensor, freeze: bool = False) -> None:
        """Initialise the word embedding (vocab_size, embed_dim), e.g. from GloVe."""
        emb = self.text.embedding
        w = torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != emb.weight.shape:
            raise ElaError(f"embedding weights {tuple(w.shape)} do not fit the table "
                           f"{tuple(emb.weight.shape)} (vocab_size, embed_dim)")
        with torch.no_grad():
            emb.weight.copy_(w)
        emb.weight.requires_grad_(not freeze)

    def representations(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Phase 1: {modality: (N, D_m)} representations A, T, S."""
        missing = [k for m in self.modalities for k in _KEYS[m] if k not in batch]
        if missing:
            raise ElaError(f"{self.config.get('name', 'multimodal')}: the batch lacks "
                           f"{missing} (modalities {list(self.modalities)})")
        reps = {}
        if "audio" in self.modalities:
            reps["audio"] = self.audio(batch["mfcc"], batch["mfcc_length"], batch["prosody"])
        if "text" in self.modalities:
            reps["text"] = self.text(batch["tokens"], batch["tokens_length"])
        if "skeleton" in self.modalities:
            reps["skeleton"] = self.skeleton.features(batch["skeleton"])
        return reps

    def forward_features(self, batch: Mapping[str, torch.Tensor]
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N, num_classes), fused features (N, width))."""
        if not isinstance(batch, Mapping):
            raise ElaError("a multimodal model takes a dict batch (ela.data.manifest."
                           "ModalityBatch), not a tensor")
        reps = self.representations(batch)
        parts = [torch.relu(self.project[m](reps[m])) if self.project is not None else reps[m]
                 for m in self.modalities]
        fused = torch.cat(parts, dim=1)
        return self.out(self.drop(fused)), fused


_KEYS = {"audio": ("mfcc", "mfcc_length", "prosody"), "text": ("tokens", "tokens_length"),
         "skeleton": ("skeleton",)}


@register_model("smern", kind="multimodal")
class SMERN(MultimodalEmotionNet):
    """SMERN (paper 001): audio + text + SMACN skeleton features, two-phase fusion."""


@register_model("sern", kind="multimodal")
class SERN(MultimodalEmotionNet):
    """SERN (paper 004): audio + text + S-STGCN skeleton features, two-phase fusion."""

    default_skeleton = "sstgcn"


@register_model("sern-2s", kind="multimodal")
class SERN2s(MultimodalEmotionNet):
    """SERN-2s (paper 004): as SERN with the two-stream 2s-S-STGCN."""

    default_skeleton = "2s-sstgcn"


@register_model("mdre", kind="multimodal")
class MDRE(MultimodalEmotionNet):
    """MDRE (Yoon et al. 2018): ARE ⊕ TRE → FC."""

    default_modalities = ("audio", "text")
    default_fusion = "concat"


@register_model("are", kind="multimodal")
class ARE(MDRE):
    """ARE alone: the audio row of the papers' tables."""

    default_modalities = ("audio",)


@register_model("tre", kind="multimodal")
class TRE(MDRE):
    """TRE alone: the text row of the papers' tables."""

    default_modalities = ("text",)


MULTIMODAL_MODELS: dict[str, tuple[str, ...]] = {
    "smern": SMERN.default_modalities, "sern": SERN.default_modalities,
    "sern-2s": SERN2s.default_modalities, "mdre": MDRE.default_modalities,
    "are": ARE.default_modalities, "tre": TRE.default_modalities,
}
"""Registry name → the modalities the model uses by default."""
