"""Training, evaluation, metrics, cross-validation and checkpoints for every `ela` model.

    from ela.training import TrainConfig, train, evaluate, save_checkpoint, load
    result = train(model, train_ds, val_ds, TrainConfig(epochs=50, patience=10))
    metrics, y_true, y_pred = evaluate(model, test_ds)   # best-validation weights
    save_checkpoint(model, "run/", {"classes": names, "label": "action", "frames": 32})
    model = load("run/")                                   # no pickle, no training code

`run_training` / `evaluate_run` are what ``ela train`` / ``ela eval`` call.
"""

from ela.training.checkpoint import (
    check_compatible,
    load,
    load_config,
    save_checkpoint,
)
from ela.training.crossval import train_one_split, train_splits
from ela.training.loop import TrainConfig, TrainResult, evaluate, resolve_device, train
from ela.training.metrics import classification_metrics, confusion_matrix, mean_std
from ela.training.run import evaluate_run, resolve_splits, run_training

load_checkpoint = load

__all__ = [
    "TrainConfig", "TrainResult", "check_compatible", "classification_metrics",
    "confusion_matrix", "evaluate", "evaluate_run", "load",
    "load_checkpoint", "load_config", "mean_std", "resolve_device", "resolve_splits",
    "run_training", "save_checkpoint", "train", "train_one_split", "train_splits",
]
