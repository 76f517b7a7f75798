"""Model checkpoints: weights as safetensors + a JSON config, loadable without training code.

A checkpoint is a folder holding

- ``model.safetensors``: the model's ``state_dict`` (CPU, contiguous tensors);
- ``config.json``: ``{"format": "ela-checkpoint", "format_version": 1, "ela_version",
  "model": <model.config, the keyword arguments of create_model>, "kind", "num_joints",
  "num_parameters", ...extra}`` where ``extra`` usually holds ``classes``, ``label``,
  ``frames`` and ``transform``.

Loading never unpickles anything: the model is rebuilt with ``create_model(**config["model"])``
and the weights are loaded with ``strict=True``. Every file is written atomically (a
temporary file in the same folder, then ``os.replace``), so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors_bytes

import ela
from ela.errors import CheckpointError, ElaError
from ela.files import atomic_write_bytes, atomic_write_json
from ela.models.base import SkeletonModel
from ela.models.registry import create_model

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "ela-checkpoint"
FORMAT_VERSION = 1


def read_json(path: str | Path, error: type[ElaError] = CheckpointError) -> Any:
    """Parse the JSON file `path`, raising `error` naming the file when missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: file is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path}: not valid JSON ({err})") from err


def cpu_tensors(state: Mapping[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies of `state` with `prefix` added to every key.

    Copies never share memory, so safetensors accepts models with tied weights.
    """
    return {prefix + k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def save_tensor_file(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write `tensors` (CPU, contiguous) as a safetensors file atomically."""
    atomic_write_bytes(path, save_tensors_bytes(tensors, metadata=metadata))


def save_checkpoint(
    model: SkeletonModel, path_dir: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write `model.safetensors` + `config.json` of `model` into the folder `path_dir`.

    `extra` (JSON-able) is merged into the config, e.g. ``{"classes": [...], "label":
    "action", "frames": 32, "transform": {...}}``. Returns the folder.
    """
    if not getattr(model, "config", None) or "name" not in model.config:
        raise CheckpointError(
            "model has no config (build it with ela.models.create_model so that it can be "
            "rebuilt from its checkpoint)"
        )
    reserved = {"format", "format_version", "ela_version", "model", "kind", "num_joints",
                "num_parameters"}
    clash = reserved & set(extra or {})
    if clash:
        raise CheckpointError(f"extra checkpoint keys {sorted(clash)} are reserved")
    out = Path(path_dir)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ela_version": ela.__version__,
        "model": dict(model.config),
        "kind": getattr(model, "kind", "action"),
        "num_joints": model.layout.num_joints,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        **(extra or {}),
    }
    save_tensor_file(out / MODEL_FILE, cpu_tensors(model.state_dict()))
    atomic_write_json(out / CONFIG_FILE, config)
    return out


def checkpoint_dir(path: str | Path) -> Path:
    """The checkpoint folder of `path` (a folder, or its config.json / model.safetensors)."""
    p = Path(path)
    if p.is_file() and p.name in (MODEL_FILE, CONFIG_FILE):
        return p.parent
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint folder")
    if not p.is_dir():
        raise CheckpointError(f"{p}: expected a checkpoint folder holding {MODEL_FILE} and "
                              f"{CONFIG_FILE}")
    return p


def weights_digest(path: str | Path) -> str:
    """BLAKE2b (hex, 16 bytes) of the checkpoint's weights file: the same digest means the
    same model, wherever its folder has moved."""
    weights = checkpoint_dir(path) / MODEL_FILE
    try:
        return hashlib.blake2b(weights.read_bytes(), digest_size=16).hexdigest()
    except OSError as err:
        raise CheckpointError(f"{weights}: cannot be read ({err})") from None


def load_config(path: str | Path) -> dict[str, Any]:
    """The parsed `config.json` of the checkpoint at `path` (folder or one of its files)."""
    cfg_path = checkpoint_dir(path) / CONFIG_FILE
    config = read_json(cfg_path)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{cfg_path}: not an ela checkpoint config (no \"format\": "
                              f"\"{FORMAT}\")")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{cfg_path}: checkpoint format version "
                              f"{config['format_version']} is newer than this ela reads "
                              f"({FORMAT_VERSION}); upgrade ela")
    model_cfg = config.get("model")
    if not isinstance(model_cfg, dict) or not isinstance(model_cfg.get("name"), str):
        raise CheckpointError(f"{cfg_path}: \"model\" must be an object with a \"name\"")
    return config


def load(path: str | Path, device: str | torch.device = "cpu") -> SkeletonModel:
    """Rebuild the model saved at `path` and load its weights (strict); returns it in eval mode.

    Raises CheckpointError naming the file when a file is missing or malformed, the model
    cannot be rebuilt from the config, or the weights do not fit it.
    """
    folder = checkpoint_dir(path)
    config = load_config(folder)
    cfg_path, weights_path = folder / CONFIG_FILE, folder / MODEL_FILE
    try:
        model = create_model(**config["model"])
    except (ElaError, TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{cfg_path}: cannot rebuild model from \"model\" "
                              f"{config['model']}: {err}") from err
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: file is missing")
    try:
        state = load_file(str(weights_path), device="cpu")
    except Exception as err:  # safetensors raises its own (Rust) error type for bad files
        raise CheckpointError(f"{weights_path}: not a readable safetensors file ({err})") from err
    try:
        state = model.upgrade_state_dict(state)  # keys written by older versions
    except CheckpointError as err:
        raise CheckpointError(f"{weights_path}: {err}") from err
    _check_state_fits(model, state, weights_path, cfg_path)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def check_compatible(
    config: Mapping[str, Any],
    layout_name: str,
    num_joints: int,
    classes: Sequence[str] | None = None,
    where: str = "checkpoint",
) -> None:
    """Raise CheckpointError when the checkpoint `config` does not fit the data.

    Compares the layout name, the joint count and (when both sides know them) the class
    names, in order, since class indices must mean the same classes. `where` names the
    checkpoint in messages.
    """
    model_cfg = config.get("model", {})
    ck_layout = model_cfg.get("layout")
    if ck_layout != layout_name:
        raise CheckpointError(
            f"{where}: model was trained on layout {ck_layout!r} but the data has layout "
            f"{layout_name!r}; map the data to {ck_layout!r} first"
        )
    ck_joints = config.get("num_joints")
    if ck_joints is not None and int(ck_joints) != int(num_joints):
        raise CheckpointError(
            f"{where}: model expects {ck_joints} joints but the data has {num_joints}"
        )
    ck_classes = config.get("classes")
    if classes is not None and ck_classes is not None and list(ck_classes) != list(classes):
        raise CheckpointError(
            f"{where}: model classes {list(ck_classes)} differ from the data's classes "
            f"{list(classes)} (names and order must match)"
        )
    num_classes = model_cfg.get("num_classes")
    if classes is not None and num_classes is not None and len(classes) > int(num_classes):
        raise CheckpointError(
            f"{where}: model has {num_classes} outputs but the data has {len(classes)} classes"
        )


def _check_state_fits(
    model: torch.nn.Module, state: dict[str, torch.Tensor], weights_path: Path, cfg_path: Path
) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = []
        for name, items in (("missing", missing), ("unexpected", unexpected),
                            ("wrong shape", wrong)):
            if items:
                more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
                parts.append(f"{name}: {', '.join(items[:5])}{more}")
        raise CheckpointError(
            f"{weights_path}: weights do not fit the model described by {cfg_path}; "
            + "; ".join(parts)
        )
