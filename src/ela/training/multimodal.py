"""``ela train --manifest``: multimodal emotion recognizers (MDRE, SMERN, SERN, SERN-2s).

The same fold runner, protocol and files as `ela.training.run.run_training`
(`ela.training.crossval.train_splits`, `ela.training.folder`): by default the emotion
papers' 5-fold cross-validation (train : dev : test = 8 : 0.5 : 1.5,
`ela.data.splits.emotion_cv`, grouped by the manifest's ``group``), one fresh model per fold
tested as its best-dev epoch, UAR / WAR (= accuracy) / WAP. The run folder gets
``data.json``, ``split.json``, ``metrics.json`` (fold means, summed confusion, per-fold
metrics) and per fold ``fold_<k>/`` with its checkpoint (``model.safetensors`` +
``config.json`` holding classes, modalities, vocabulary and preprocessing), and a copy of
the best-dev fold's checkpoint at the top. Finished folds are not trained again; an
interrupted fold resumes; a folder trained on another manifest is refused.
`evaluate_multimodal_run` (``ela eval RUN --manifest M``) scores a run folder's checkpoint on
a manifest, prepared exactly as in training (vocabulary, frames, transform from config.json).

Per fold, the audio standardisation statistics are fitted on the training part only. The
vocabulary is built from all transcripts (no labels are used); with ``glove`` the embedding
starts from those vectors, otherwise it is learned from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.data import splits as S
from ela.data.fingerprint import multimodal_fingerprint
from ela.data.manifest import MultimodalData, MultimodalDataset, load_multimodal
from ela.data.transforms import build_transform
from ela.errors import ElaError
from ela.files import atomic_write_json
from ela.models.base import SkeletonModel
from ela.models.multimodal import MULTIMODAL_MODELS
from ela.models.registry import create_model
from ela.text import Vocabulary, embedding_matrix
from ela.training.checkpoint import load, load_config
from ela.training.crossval import train_splits
from ela.training.folder import METRICS_FILE, SPLIT_FILE, claim, run_part
from ela.training.loop import TrainConfig, evaluate, make_logger, resolve_device
from ela.training.run import write_evaluation


def model_modalities(model: str, model_cfg: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The modalities model `model` uses with options `model_cfg`."""
    if model not in MULTIMODAL_MODELS:
        raise ElaError(f"{model!r} is not a multimodal model; use one of "
                       f"{', '.join(sorted(MULTIMODAL_MODELS))}")
    return tuple((model_cfg or {}).get("modalities") or MULTIMODAL_MODELS[model])


def _audio_stats(data: MultimodalData, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    frames = np.concatenate([data.mfcc[i] for i in idx])
    prosody = data.prosody[idx]
    return frames.mean(0), frames.std(0), prosody.mean(0), prosody.std(0)


def run_multimodal_training(
    manifest: str | Path | MultimodalData,
    model: str,
    out: str | Path,
    *,
    model_cfg: dict[str, Any] | None = None,
    layout: str = "upper10",
    frames: int = 32,
    sampling: str = "resample",
    transform: Sequence[str] | str | None = "centre",
    split: str = "emotion5",
    folds: int | None = None,
    val_fraction: float = 0.1,
    glove: str | Path | None = None,
    freeze_embedding: bool = False,
    train_config: TrainConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train and test multimodal model `model` on the manifest (or already loaded data).

    model_cfg: options of the model (e.g. ``{"modalities": ["audio", "skeleton"],
    "skeleton_cfg": {"channels": [16, 32]}}``). layout, frames, sampling, transform: how
    skeletons are prepared (upper10, 32 frames, resampled, centred). split / folds: a
    `ela.data.splits.parse_splits` spec (folds K sets ``emotion:K``), grouped by the
    manifest's groups. glove: GloVe-format word vectors.
    train_config: every training option (epochs, lr, seed, device, ...). The other options
    as `ela.training.run.run_training`. Returns the metrics written to ``metrics.json``.
    """
    cfg = train_config or TrainConfig()
    model_cfg = dict(model_cfg or {})
    mods = model_modalities(model, model_cfg)
    say = make_logger(progress, log)
    data = manifest if isinstance(manifest, MultimodalData) else load_multimodal(
        manifest, mods, layout=layout, log=say)
    missing = [m for m in mods if m not in data.modalities]
    if missing:
        raise ElaError(f"{data.source}: loaded without {missing}, which {model} uses")
    splits = [sp.check(len(data)) for sp in S.parse_splits(
        f"emotion:{folds}" if folds else split, data.labels, data.groups, cfg.seed,
        val_fraction)]
    fingerprint = multimodal_fingerprint(data)
    out = claim(out, fingerprint, overwrite)
    S.save_splits(splits, out / SPLIT_FILE)

    vocab = Vocabulary.build(data.texts) if "text" in mods else None
    embedding = None
    if vocab is not None:
        model_cfg["vocab_size"] = len(vocab)
        if glove is not None:
            embedding, found = embedding_matrix(vocab, glove, cfg.seed)
            model_cfg["embed_dim"] = int(embedding.shape[1])
            say(f"GloVe: {found} of {len(vocab) - 2} words found in {glove}")
    skeleton = data.skeleton if "skeleton" in mods else None
    pre = build_transform(transform, skeleton.layout) if skeleton is not None and transform \
        else None
    in_channels = int(skeleton.samples[0].data.shape[0]) if skeleton is not None else 3
    layout_name = skeleton.layout.name if skeleton is not None else layout
    prep = json.loads(json.dumps({
        "label": "emotion", "modalities": list(mods),
        "vocab": vocab.words if vocab is not None else None, "frames": frames,
        "sampling": sampling, "transform": transform, "glove": str(glove) if glove else None,
        "freeze_embedding": freeze_embedding, "model_cfg": model_cfg}))

    def datasets(idx: np.ndarray, training: bool) -> MultimodalDataset:
        return MultimodalDataset(data, idx, vocab, frames, pre, sampling, modalities=mods)

    def build(split: S.Split) -> SkeletonModel:
        net = create_model(model, layout_name, len(data.classes), in_channels, **model_cfg)
        if "audio" in mods:
            net.set_audio_stats(*(torch.from_numpy(a) for a in _audio_stats(data, split.train)))
        if embedding is not None:
            net.set_embedding(torch.from_numpy(embedding), freeze=freeze_embedding)
        return net

    metrics = train_splits(
        build, datasets, splits, cfg, out, class_names=list(data.classes), prep=prep,
        checkpoint_extra={"manifest": data.source, "train_config": cfg.to_dict(),
                          "data_fingerprint": fingerprint},
        progress=progress, log=log)
    metrics.update(model=model, modalities=list(mods), data_fingerprint=fingerprint,
                   split=[s.name for s in splits] if len(splits) > 1 else splits[0].name)
    atomic_write_json(out / METRICS_FILE, metrics)
    say(f"test UAR {metrics['uar']:.4f}  WAR {metrics['war']:.4f}  WAP {metrics['wap']:.4f}"
        f"  -> {out / METRICS_FILE}")
    return metrics


def evaluate_multimodal_run(
    run_dir: str | Path,
    manifest: str | Path | MultimodalData,
    out: str | Path | None = None,
    *,
    part: str | None = None,
    batch_size: int = 64,
    device: str = "auto",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate the multimodal checkpoint of `run_dir` on `manifest` (all rows or one `part`).

    The manifest is read for the run's modalities, with its skeletons mapped to the run's
    layout and labels checked against the run's classes (an unknown label raises
    DataFormatError naming the file). part: "train", "val" or "test" of the run's own
    split.json (the manifest must then be the one it was trained on; with folds, the part of
    the fold whose checkpoint the folder holds). With `out`: ``metrics.json`` and
    ``predictions.csv`` as `ela.training.run.evaluate_run` writes them. Returns the metrics.
    """
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    if not config.get("modalities"):
        raise ElaError(f"{run_dir}: not a multimodal run (config.json lists no modalities); "
                       f"evaluate it with --data instead of --manifest")
    mods = tuple(config["modalities"])
    classes = list(config["classes"])
    data = manifest if isinstance(manifest, MultimodalData) else load_multimodal(
        manifest, mods, layout=config["model"].get("layout", "upper10"), classes=classes,
        log=make_logger(True, log))
    if list(data.classes) != classes:
        raise ElaError(f"{data.source}: classes {data.classes} differ from the run's {classes}")
    vocab = Vocabulary(config["vocab"]) if config.get("vocab") else None
    transform = config.get("transform")
    pre = (build_transform(transform, data.skeleton.layout)
           if "skeleton" in mods and transform else None)
    indices = run_part(run_dir, config, part, len(data)) if part is not None else None
    ds = MultimodalDataset(data, indices, vocab, int(config["frames"]), pre,
                           config.get("sampling", "resample"), modalities=mods)
    model = load(run_dir, device=resolve_device(device))
    metrics, y_true, y_pred = evaluate(model, ds, batch_size, class_names=classes)
    metrics.update(run=str(run_dir), data=data.source, part=part or "all")
    if out is not None:
        write_evaluation(out, metrics, ds.indices, y_true, y_pred, classes)
    return metrics
