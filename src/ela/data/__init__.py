"""Datasets, splits, transforms and the built-in demo data.

`butter_lowpass` is re-exported from `ela.skeleton.filters` (the video extraction uses it too).
"""

from ela.data.dataset import (
    SkeletonDataset,
    clip_id,
    collate,
    fix_frames,
    to_tensor_batch,
    window_set,
    windows,
)
from ela.data.demo import ACTIONS, EMOTIONS, demo_dataset
from ela.data.splits import (
    NTU_XSUB_TRAIN,
    NTU_XVIEW_TRAIN,
    Split,
    assign_groups,
    emotion_cv,
    group_ids,
    group_kfold,
    load_folds,
    load_split,
    protocol_split,
    save_folds,
    save_split,
    stratified_kfold,
    train_val_test,
)
from ela.data.transforms import (
    Compose,
    align_view,
    build_transform,
    centre,
    pad_or_crop,
    random_crop,
    random_rotation,
    resample,
    to_bone,
    valid_length,
)
from ela.skeleton.filters import butter_lowpass

__all__ = [
    "ACTIONS", "EMOTIONS", "NTU_XSUB_TRAIN", "NTU_XVIEW_TRAIN", "Compose", "SkeletonDataset",
    "Split", "align_view", "assign_groups", "build_transform", "butter_lowpass", "centre",
    "clip_id", "collate", "demo_dataset", "emotion_cv", "fix_frames", "group_ids",
    "group_kfold", "load_folds", "load_split", "pad_or_crop", "protocol_split",
    "random_crop", "random_rotation", "resample", "save_folds", "save_split",
    "stratified_kfold", "to_bone", "to_tensor_batch", "train_val_test", "valid_length",
    "window_set", "windows",
]
