"""What data a result was computed on: a fingerprint of a skeleton set, and the check that
refuses to mix results of two datasets in one folder.

A run folder (``config.json``), an attack folder (``summary.json`` and its shards'
``settings.json``) and an experiment's cells record `data_fingerprint` of the set they were
computed on; reusing a folder with other data is an error naming both datasets, unless the
caller asked to overwrite.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from ela.errors import ElaError
from ela.io.base import WHERE_KEYS, SkeletonSet

__all__ = ["WHERE_KEYS", "data_fingerprint", "describe", "multimodal_fingerprint",
           "same_data"]


def data_fingerprint(skeleton_set: SkeletonSet) -> dict[str, Any]:
    """{"source", "layout", "samples", "digest"} of a set; the digest (BLAKE2b, 16 bytes,
    hex) covers every sample's name, labels, metadata, shape and joint coordinates, the
    label names and the layout, so any change of content or order changes it; where the
    files lie (`WHERE_KEYS` of the metadata) does not count. A store
    (`ela.io.store`) gives the digest it computed while it was written, without reading
    its samples again."""
    return {"source": skeleton_set.source, "layout": skeleton_set.layout.name,
            "samples": len(skeleton_set), "digest": skeleton_set.content_digest()}


def describe(fingerprint: dict[str, Any]) -> str:
    """"SOURCE (N samples, digest abcd1234)" for messages."""
    return (f"{fingerprint.get('source') or '?'} ({fingerprint.get('samples', '?')} samples, "
            f"digest {str(fingerprint.get('digest', '?'))[:8]})")


def same_data(recorded: dict[str, Any] | None, now: dict[str, Any], where: str,
              overwrite: bool = False, flag: str = "--overwrite") -> bool:
    """True when `recorded` (the fingerprint a folder holds; None for none) is `now`'s data.

    Different data: with `overwrite` returns False (the caller redoes the work), otherwise
    raises ElaError naming `where` and both datasets and the `flag` that allows it.
    """
    if recorded is None or recorded.get("digest") == now["digest"]:
        return True
    if overwrite:
        return False
    raise ElaError(f"{where} was computed on {describe(recorded)}, not on the data given now, "
                   f"{describe(now)}; use another output folder, or pass {flag} to replace it")


def multimodal_fingerprint(data: Any) -> dict[str, Any]:
    """`data_fingerprint` of an `ela.data.manifest.MultimodalData`: its classes, labels,
    groups, transcripts, audio features and skeletons (those loaded)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([list(data.classes), list(data.modalities), data.texts],
                        default=str).encode())
    for array in (data.labels, np.asarray(data.groups, dtype=str), data.prosody,
                  *(data.mfcc or [])):
        if array is not None:
            h.update(np.ascontiguousarray(array).data)
    if data.skeleton is not None:
        h.update(data_fingerprint(data.skeleton)["digest"].encode())
    return {"source": data.source, "layout": data.skeleton.layout.name
            if data.skeleton is not None else None, "samples": len(data),
            "digest": h.hexdigest()}
