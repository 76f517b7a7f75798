"""Score a detector folder of `ela detect` on attack folders it was not built with.

`ela detect` scores each detector on the test folders named like its training folders. An
attack variant with no training folder of its own (ELA with ``--cfg rigid=true``, say) can
still be judged by a detector trained on other attacks, as the pooled detector judges each
attack: this prints, per folder, the test pairs, ROC-AUC with its bootstrap interval, the
share caught at the detector's own threshold and the share caught at 5 % false alarms of
the folder's clean sequences (`ela.runs.detect.score`). Nothing is trained; `--out` writes
the scores as JSON, keyed by each folder's name (``pooled`` of ``squeeze.json``'s shape).

    .venv/bin/python scripts/score_detector.py runs/detect_msr/detect_by_subject/detectors/pooled \\
        runs/detect_msr/test/ela runs/detect_msr/test/ela_rigid
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ela.files import atomic_write_json
from ela.runs.detect import DetectorSettings, guard_threshold, pairs_of, rate_key, score
from ela.training.checkpoint import load
from ela.viz.load import load_attack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detector", help="a detector folder (OUT/detectors/NAME of ela detect)")
    parser.add_argument("folders", nargs="+", help="attack folders to score it on")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="JSON file for the scores")
    args = parser.parse_args()
    names = [Path(f).name for f in args.folders]
    if len(set(names)) < len(names):
        parser.error(f"folder names must differ (they key --out): {names}")
    settings = DetectorSettings(bootstrap=args.bootstrap, device=args.device)
    model = load(args.detector, device=args.device).eval()
    threshold = guard_threshold(args.detector)
    key = rate_key(settings.false_alarms)
    print("| folder | test pairs | AUC (95 % interval) | caught at the threshold (95 % "
          f"interval) | clean flagged | caught at {100 * settings.false_alarms:g} % false "
          "alarms |")
    print("|---|---|---|---|---|---|")
    scores = {}
    for name, folder in zip(names, args.folders, strict=True):
        r = scores[name] = score(model, threshold, pairs_of([load_attack(folder)]), settings)
        r["folder"] = folder
        interval = ("" if r["caught_low"] is None else
                    f" ({100 * r['caught_low']:.1f}–{100 * r['caught_high']:.1f})")
        print(f"| {folder} | {r['n_test']} | {r['auc']:.3f} ({r['auc_low']:.3f}–"
              f"{r['auc_high']:.3f}) | {100 * r['caught_at_threshold']:.1f} %{interval} | "
              f"{100 * r['false_alarms_at_threshold']:.1f} % | {100 * r[key]:.1f} % |")
    if args.out:
        atomic_write_json(args.out, {"detector": args.detector, "threshold": threshold,
                                     "pooled": scores})


if __name__ == "__main__":
    main()
