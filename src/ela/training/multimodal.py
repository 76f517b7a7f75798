"""``ela train --manifest``: multimodal emotion recognizers (MDRE, SMERN, SERN, SERN-2s).

The same protocol and files as `ela.training.run.run_training`: the emotion papers' 5-fold
cross-validation (train : dev : test = 8 : 0.5 : 1.5, `ela.data.splits.emotion_cv`, grouped
by the manifest's ``group``), one fresh model per fold trained by `ela.training.loop.train`
and tested as its best-dev epoch, UAR / WAR (= accuracy) / WAP. The run folder gets
``split.json``, ``metrics.json`` (fold means, summed confusion, per-fold metrics) and per fold
``fold_<k>/`` with its checkpoint (``model.safetensors`` + ``config.json`` holding classes,
modalities, vocabulary and preprocessing), and a copy of the best-dev fold's checkpoint at
the top. Finished folds are not trained again; an interrupted fold resumes.
`evaluate_multimodal_run` (``ela eval RUN --manifest M``) scores a run folder's checkpoint on
a manifest, prepared exactly as in training (vocabulary, frames, transform from config.json).

Per fold, the audio standardisation statistics are fitted on the training part only. The
vocabulary is built from all transcripts (no labels are used); with ``glove`` the embedding
starts from those vectors, otherwise it is learned from scratch.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ela.data import splits as S
from ela.data.manifest import MultimodalData, MultimodalDataset, load_multimodal
from ela.data.transforms import build_transform
from ela.errors import ElaError
from ela.files import atomic_write_json
from ela.models.multimodal import MULTIMODAL_MODELS
from ela.models.registry import create_model
from ela.text import Vocabulary, embedding_matrix
from ela.training.checkpoint import CONFIG_FILE, MODEL_FILE, read_json, save_checkpoint
from ela.training.crossval import split_digest, summarise_folds
from ela.training.loop import TrainConfig, evaluate, make_logger, seed_everything, train

SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"


def model_modalities(model: str, model_cfg: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The modalities model `model` uses with options `model_cfg`."""
    if model not in MULTIMODAL_MODELS:
        raise ElaError(f"{model!r} is not a multimodal model; use one of "
                       f"{', '.join(sorted(MULTIMODAL_MODELS))}")
    return tuple((model_cfg or {}).get("modalities") or MULTIMODAL_MODELS[model])


def multimodal_splits(spec: str, data: MultimodalData, seed: int = 0) -> list[S.Split]:
    """Splits from ``"emotion5"`` / ``"emotion:K"`` (the papers' protocol), ``"holdout"`` /
    ``"holdout:a,b,c"`` or a ``.json`` written by save_split / save_folds."""
    name, _, arg = spec.strip().partition(":")
    key = name.lower()
    try:
        if spec.endswith(".json"):
            kind = read_json(spec, error=ElaError).get("format")
            out = S.load_folds(spec) if kind == "ela-folds" else [S.load_split(spec)]
        elif key in ("emotion", "emotion5", "emotion-cv"):
            out = S.emotion_cv(data.labels, data.groups, int(arg) if arg else 5, seed=seed)
        elif key == "holdout":
            ratios = tuple(float(v) for v in arg.split(",")) if arg else (0.8, 0.1, 0.1)
            out = [S.train_val_test(data.labels, data.groups, ratios, seed)]
        else:
            raise ElaError(f"split must be emotion5, emotion:K, holdout[:a,b,c] or a .json "
                           f"file, got {spec!r}")
    except ValueError:
        raise ElaError(f"split {spec!r}: bad number after ':'") from None
    return [s.check(len(data)) for s in out]


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
    glove: str | Path | None = None,
    freeze_embedding: bool = False,
    train_config: TrainConfig | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train and test multimodal model `model` on the manifest (or already loaded data).

    model_cfg: options of the model (e.g. ``{"modalities": ["audio", "skeleton"],
    "skeleton_cfg": {"channels": [16, 32]}}``). layout, frames, sampling, transform: how
    skeletons are prepared (upper10, 32 frames, resampled, centred). split / folds: see
    `multimodal_splits` (folds K sets ``emotion:K``). glove: GloVe-format word vectors.
    The other options as `ela.training.run.run_training`. Returns the metrics written to
    ``metrics.json``.
    """
    cfg = TrainConfig.overridden(train_config, epochs=epochs, batch_size=batch_size, lr=lr,
                                 seed=seed, device=device)
    model_cfg = dict(model_cfg or {})
    mods = model_modalities(model, model_cfg)
    say = make_logger(progress, log)
    data = manifest if isinstance(manifest, MultimodalData) else load_multimodal(
        manifest, mods, layout=layout, log=say)
    missing = [m for m in mods if m not in data.modalities]
    if missing:
        raise ElaError(f"{data.source}: loaded without {missing}, which {model} uses")
    splits = multimodal_splits(f"emotion:{folds}" if folds else split, data, cfg.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if len(splits) == 1:
        S.save_split(splits[0], out / SPLIT_FILE)
    else:
        S.save_folds(splits, out / SPLIT_FILE)

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
    extra = {"classes": data.classes, "label": "emotion", "modalities": list(mods),
             "vocab": vocab.words if vocab is not None else None, "frames": frames,
             "sampling": sampling, "transform": transform, "manifest": data.source,
             "train_config": cfg.to_dict(), "glove": str(glove) if glove else None,
             "model_cfg": model_cfg}
    extra = json.loads(json.dumps(extra))

    def dataset(idx: np.ndarray) -> MultimodalDataset:
        return MultimodalDataset(data, idx, vocab, frames, pre, sampling, modalities=mods)

    def build(split: S.Split) -> torch.nn.Module:
        seed_everything(cfg.seed)
        net = create_model(model, layout_name, len(data.classes), in_channels, **model_cfg)
        if "audio" in mods:
            net.set_audio_stats(*(torch.from_numpy(a) for a in _audio_stats(data, split.train)))
        if embedding is not None:
            net.set_embedding(torch.from_numpy(embedding), freeze=freeze_embedding)
        return net

    results = []
    for k, s in enumerate(splits, start=1):
        folder = out / f"fold_{k}" if len(splits) > 1 else out
        say(f"fold {k}/{len(splits)}: train {len(s.train)}, dev {len(s.val)}, "
            f"test {len(s.test)}")
        results.append(_train_fold(build, dataset, s, cfg, folder, data.classes,
                                   {**extra, "fold": k} if len(splits) > 1 else extra,
                                   progress, log))
    if len(splits) > 1:
        metrics = summarise_folds(results, data.classes)
        best = out / f"fold_{metrics['checkpoint_fold']}"
        for name in (MODEL_FILE, CONFIG_FILE):
            shutil.copyfile(best / name, out / name)
    else:
        metrics = results[0]
    metrics.update(model=model, modalities=list(mods),
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
    from ela.training.checkpoint import load, load_config
    from ela.training.loop import resolve_device
    from ela.training.run import _run_part, write_evaluation

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
    indices = _run_part(run_dir, config, part, len(data)) if part is not None else None
    ds = MultimodalDataset(data, indices, vocab, int(config["frames"]), pre,
                           config.get("sampling", "resample"), modalities=mods)
    model = load(run_dir, device=resolve_device(device))
    metrics, y_true, y_pred = evaluate(model, ds, batch_size, class_names=classes)
    metrics.update(run=str(run_dir), data=data.source, part=part or "all")
    if out is not None:
        write_evaluation(out, metrics, ds.indices, y_true, y_pred, classes)
    return metrics


def _train_fold(build, dataset, split: S.Split, cfg: TrainConfig, folder: Path,
                classes: list[str], extra: dict[str, Any], progress: bool,
                log) -> dict[str, Any]:
    digest = split_digest(split)
    done = folder / METRICS_FILE
    if done.exists() and (folder / MODEL_FILE).exists():
        metrics = read_json(done, error=ElaError)
        if metrics.get("split_digest") == digest and metrics.get("options") == extra:
            make_logger(progress, log)(f"{done} exists: not trained again")
            return metrics
    net = build(split)
    val = dataset(split.val) if len(split.val) else None
    result = train(net, dataset(split.train), val, cfg, progress=progress, log=log,
                   class_names=classes, checkpoint_dir=folder / "train_state", resume=True)
    metrics, _, _ = evaluate(net, dataset(split.test),
                             cfg.eval_batch_size or cfg.batch_size, class_names=classes)
    metrics.update(split_digest=digest, best_epoch=result.best_epoch,
                   best_val_score=result.best_score, training=result.summary(),
                   sizes={"train": len(split.train), "val": len(split.val),
                          "test": len(split.test)}, options=extra)
    save_checkpoint(net, folder, extra)
    atomic_write_json(done, metrics)
    shutil.rmtree(folder / "train_state", ignore_errors=True)
    return metrics
