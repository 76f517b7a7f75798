"""How `ela` grows with the dataset: peak memory and time of convert, info, train and attack.

    python bench/scale.py --sequences 4000 --out out/scale4k

Builds N synthetic NTU-shaped sequences from the real NTU samples (``../shared/data/
ntu_samples``): each is one of the real recordings, resampled to a random length of 40–300
frames, cut at a random start, shifted by up to ±0.5 m, with 5 mm of joint noise, one or two
persons (a second person is a shifted copy), and a random action and subject in its name. It
writes the first `--files` of them (default all, at most 4000) as `.skeleton` text files
under DIR/skeleton and all N straight into the store DIR/store (readable by every command
as ``--data DIR/store``). Then, each command in its own process with one torch / BLAS thread,
it measures the wall time, the peak resident memory (RSS) of the command's process and the
peak proportional memory (PSS) summed over its process tree (DataLoader and convert workers
included; forked workers share pages, which PSS counts once), sampled every 20 ms with
psutil, of

- ``bare parse``: ``np.array(text.split(), float)`` over the same files, one process (the
  floor of any text parser);
- ``ela data convert DIR/skeleton --out DIR/converted --workers W``;
- ``ela data info DIR/store``;
- ``ela train --model hcn --data DIR/store --epochs 1 --num-workers 1`` (cross-subject
  split; the epoch is a full pass, then the validation and test parts are scored);
- ``ela attack RUN --data DIR/store --samples 32 --iters 20`` (the test part is classified
  once, streamed, to choose the samples, which alone are then read and attacked);

and writes DIR/scale.json (atomically) and DIR/scale.md. Needs ``pip install 'ela[bench]'``
(psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ela.files import atomic_write_bytes, atomic_write_json
from ela.io import StoreWriter
from ela.io.base import Sample
from ela.io.ntu import parse_name, parse_sample
from ela.skeleton.layouts import get_layout

DEFAULT_NTU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ntu_samples"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
INFO = "72057594037931101 0 1 1 1 1 0 0.01 -0.25 2"


def sources(folder: Path) -> list[np.ndarray]:
    """The real recordings: (3, T, 25, M) float32 metres, one array per person present."""
    if not folder.is_dir():
        sys.exit(f"real NTU samples {folder} are absent (pass --ntu)")
    out = []
    for f in sorted(folder.glob("*.skeleton")):
        data = parse_sample(f).data
        for m in range(data.shape[3]):
            if np.abs(data[..., m]).sum() > 0:
                out.append(data[..., m])
    return out


def synthetic(i: int, real: list[np.ndarray], seed: int) -> tuple[str, np.ndarray]:
    """Sequence `i`: (name SsssCcccPpppRrrrAaaa, (3, T, 25, M) float32 metres)."""
    rng = np.random.default_rng([seed, i])
    base = real[int(rng.integers(len(real)))]
    length = int(rng.integers(40, 301))
    stretched = int(length * rng.uniform(1.0, 1.3))
    src = np.linspace(0, base.shape[1] - 1, stretched)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, base.shape[1] - 1)
    w = (src - lo)[None, :, None]
    x = base[:, lo] * (1 - w) + base[:, hi] * w
    start = int(rng.integers(0, stretched - length + 1))
    x = x[:, start:start + length]
    persons = int(rng.integers(1, 3))
    data = np.zeros((3, length, 25, persons), dtype=np.float32)
    for m in range(persons):
        shift = rng.uniform(-0.5, 0.5, size=(3, 1, 1)) + np.array([0.8, 0, 0.3])[:, None,
                                                                             None] * m
        data[..., m] = x + shift + rng.normal(0, 0.005, size=x.shape)
    name = (f"S{rng.integers(1, 33):03d}C{rng.integers(1, 4):03d}P{rng.integers(1, 107):03d}"
            f"R{rng.integers(1, 3):03d}A{rng.integers(1, 121):03d}")
    return name, data


def skeleton_text(data: np.ndarray) -> str:
    """The `.skeleton` text of (3, T, 25, M): all M bodies in every frame."""
    t, persons = data.shape[1], data.shape[3]
    rows = np.zeros((t, persons, 25, 12))
    rows[..., :3] = data.transpose(1, 3, 2, 0)
    rows[..., 3:11] = (250.0, 200.0, 1000.0, 500.0, 0.5, 0.01, 0.9, -0.1)
    rows[..., 11] = 2
    row = " ".join(["%.7g"] * 11 + ["%d"])
    text = [row % tuple(r) for r in rows.reshape(-1, 12).tolist()]
    joint = ["\n".join(text[k:k + 25]) for k in range(0, len(text), 25)]
    lines = [str(t)]
    for frame in range(t):
        lines.append(str(persons))
        for m in range(persons):
            lines += [INFO[:-1] + str(m), "25", joint[frame * persons + m]]
    return ("\n".join(lines) + "\n").replace("\n", "\r\n")  # NTU files end lines so


def _write_file(job: tuple[int, Path, int]) -> None:
    i, folder, seed = job
    name, data = synthetic(i, REAL, seed)
    (folder / f"{name}_{i:06d}.skeleton").write_text(skeleton_text(data))


REAL: list[np.ndarray] = []


def build(out: Path, n: int, files: int, seed: int, ntu: Path, workers: int) -> dict:
    """DIR/skeleton (the first `files` sequences as text) and DIR/store (all `n`)."""
    REAL.extend(sources(ntu))
    folder = out / "skeleton"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_write_file, [(i, folder, seed) for i in range(files)], chunksize=16)
    text_s = time.perf_counter() - start
    start = time.perf_counter()
    names = [f"A{k:03d}" for k in range(1, 121)]
    with StoreWriter(out / "store", get_layout("ntu25"), {"action": names}, 30.0,
                     "bench/scale.py synthetic NTU", persons=2) as writer:
        for i in range(n):
            name, data = synthetic(i, REAL, seed)
            info = parse_name(name)
            writer.append(_sample(data, info, f"{name}_{i:06d}"))
        writer.close()
    store_s = time.perf_counter() - start
    return {"text_seconds": round(text_s, 1), "store_seconds": round(store_s, 1),
            "skeleton_bytes": sum(f.stat().st_size for f in folder.iterdir()),
            "store_bytes": (out / "store").stat().st_size}


def _sample(data: np.ndarray, info: dict, name: str) -> Sample:
    return Sample(data, {"action": info["action_code"] - 1},
                  {"name": name, **info, "persons": data.shape[3], "lost_frames": []})


def _tree_memory(parent) -> tuple[int, int]:
    """(RSS of `parent`, PSS summed over it and its children) in bytes: forked workers share
    pages with their parent, which a sum of RSS would count once per process."""
    import psutil

    rss = parent.memory_info().rss
    pss = 0
    for p in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            pss += p.memory_full_info().pss
    return rss, pss


def measure(name: str, cmd: list[str], log: Path) -> dict:
    """Wall seconds, peak RSS of the command's process and peak PSS of its process tree
    (MB; DataLoader and convert workers included) of `cmd`; its output into `log`."""
    import psutil

    start = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=ENV, stdout=fh, stderr=subprocess.STDOUT)
        parent = psutil.Process(proc.pid)
        peak_rss = peak_pss = 0
        while proc.poll() is None:
            try:
                rss, pss = _tree_memory(parent)
            except psutil.Error:
                break
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(0.02)
        proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}); see {log}")
    print(f"{name}: {seconds:.1f} s, peak RSS {peak_rss / 2**20:.0f} MB, tree PSS "
          f"{peak_pss / 2**20:.0f} MB", flush=True)
    return {"command": " ".join(cmd), "seconds": round(seconds, 2),
            "peak_rss_mb": round(peak_rss / 2**20, 1),
            "peak_tree_pss_mb": round(peak_pss / 2**20, 1)}


BARE = ("import sys, pathlib, numpy as np\n"
        "for f in sorted(pathlib.Path(sys.argv[1]).glob('*.skeleton')):\n"
        "    np.array(f.read_text().split(), float)\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sequences", type=int, required=True, help="N, sequences in the store")
    p.add_argument("--out", required=True, help="folder for skeleton/, store, scale.json")
    p.add_argument("--files", type=int, default=None,
                   help=".skeleton files written and converted (default min(N, 4000))")
    p.add_argument("--workers", type=int, default=2, help="convert workers (default 2)")
    p.add_argument("--ntu", default=str(DEFAULT_NTU), help="folder of real NTU samples")
    p.add_argument("--split-samples", type=int, default=None,
                   help="train, validate and test on a random split of this many sequences of "
                        "the store (70/10/20 %%) instead of the cross-subject split of all N: "
                        "the store is still opened whole, for an N too large for an epoch here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = min(args.sequences, 4000) if args.files is None else args.files
    built = build(out, args.sequences, files, args.seed, Path(args.ntu), args.workers)
    ela = [str(Path(sys.executable).with_name("ela"))]
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    run = out / "run"
    split = []
    if args.split_samples:
        split = ["--split", str(write_split(out / "split.json", args.sequences,
                                            args.split_samples, args.seed))]
    steps = {
        "bare parse": [sys.executable, "-c", BARE, str(out / "skeleton")],
        "ela data convert": [*ela, "data", "convert", str(out / "skeleton"), "--out",
                             str(out / "converted"), "--workers", str(args.workers)],
        "ela data info": [*ela, "data", "info", str(out / "store")],
        "ela train": [*ela, "train", "--model", "hcn", "--data", str(out / "store"),
                      "--label", "action", "--out", str(run), "--epochs", "1",
                      "--frames", "32", "--batch-size", "64", "--num-workers", "1",
                      "--device", "cpu", "--overwrite", *split],
        "ela attack": [*ela, "attack", str(run), "--data", str(out / "store"), "--samples",
                       "32", "--iters", "20", "--batch-size", "32", "--device", "cpu",
                       "--out", str(out / "attack"), "--overwrite"],
    }
    results = {name: measure(name, cmd, logs / f"{name.replace(' ', '_')}.log")
               for name, cmd in steps.items()}
    bare = files / results["bare parse"]["seconds"]
    conv = files / results["ela data convert"]["seconds"]
    report = {
        "sequences": args.sequences, "files": files, "workers": args.workers,
        "seed": args.seed, "split_samples": args.split_samples, "built": built, "commands": results,
        "convert_files_per_s": round(conv, 1), "bare_parse_files_per_s": round(bare, 1),
        "convert_time_over_bare": round(bare / conv, 3),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "command": "python bench/scale.py " + " ".join(argv or sys.argv[1:]),
    }
    atomic_write_json(out / "scale.json", report)
    atomic_write_bytes(out / "scale.md", markdown([report]).encode())
    print(markdown([report]))
    return 0


def write_split(path: Path, n: int, k: int, seed: int) -> Path:
    """A split.json of `k` random sequences of `n`: 70 % train, 10 % val, 20 % test."""
    from ela.data.splits import Split, save_split

    chosen = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    a, b = int(0.7 * k), int(0.8 * k)
    save_split(Split(f"scale:{k}", chosen[:a], chosen[a:b], chosen[b:], n), path)
    return path


def markdown(reports: list[dict]) -> str:
    """One row per command and N: seconds and peak RSS."""
    lines = ["| command | N | files | seconds | peak RSS (MB) | peak PSS, all processes (MB) |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in reports:
        for name, m in r["commands"].items():
            lines.append(f"| {name} | {r['sequences']} | "
                         f"{r['files'] if name in ('bare parse', 'ela data convert') else ''} "
                         f"| {m['seconds']:.1f} | {m['peak_rss_mb']:.0f} "
                         f"| {m['peak_tree_pss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
