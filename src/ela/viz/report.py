"""The self-contained HTML report and the static pictures of attack and training folders.

The HTML file has no external reference at all (the viewer script and the styles are
inlined from ``ela/viz/assets``), so it opens offline. The viewer is a small plain-JS SVG
renderer with an orthographic camera rather than plotly: a few kB instead of ~3.5 MB of
``plotly.min.js`` per report, no extra dependency, and SVG attributes a test can read.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ela.errors import ElaError
from ela.files import atomic_write_bytes
from ela.viz.animate import animate_sample, ffmpeg_available
from ela.viz.confusion import plot_confusion, row_normalise
from ela.viz.load import (
    AttackOutput,
    CardOutput,
    Output,
    RobustnessOutput,
    TrainingOutput,
    TransferOutput,
    find_outputs,
)
from ela.viz.projection import default_view, present_persons, sequence_points
from ela.viz.strip import plot_strip

#: (summary key, row label, kind) of the summary table; kind "%" prints a share.
SUMMARY_ROWS = (
    ("method", "method", "text"), ("model", "model", "text"), ("dataset", "data", "text"),
    ("n", "samples attacked", "int"), ("success_rate", "success rate (SR)", "%"),
    ("bone_length_change", "ΔB/B", "%"), ("bone_angle_change", "ΔA/A", "%"),
    ("bone_angle_change_paper", "ΔA/A, the paper's measure (Zheng et al.)", "%"),
    ("joint_speed_change", "ΔS/S (still joints counted)", "%"),
    ("still_joint_speed_p99_mm", "still joints' speed, p99 (mm/frame)", "num"),
    ("l2", "l2 (m per frame)", "num"),
    ("acceleration_change", "acceleration change (m/frame²)", "num"),
    ("emotion_consistency", "emotion consistency", "%"),
    ("model_evaluations_per_sample", "model evaluations / sample", "num"),
    ("model_evaluations_median", "model evaluations / sample, median", "num"),
    ("model_evaluations_p90", "model evaluations / sample, p90", "num"),
    ("seconds", "seconds", "num"),
)

COORD_SCALE = 1e-4  # coordinates travel as integers of 0.1 mm


def _asset(name: str) -> str:
    return resources.files("ela.viz").joinpath("assets", name).read_text(encoding="utf-8")


def _fmt(value: Any, kind: str) -> str:
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return "–"
    if kind == "%":
        return f"{100 * float(value):.1f} %"
    if kind == "int":
        return str(int(value))
    if kind == "num":
        v = float(value)
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return html.escape(str(value))


def summary_table(attacks: Sequence[AttackOutput]) -> str:
    """HTML table: one column per attack folder (side by side), one row per number."""
    head = "".join(f"<th>{html.escape(a.folder.name)}</th>" for a in attacks)
    rows = "".join(
        f"<tr><td>{label}</td>"
        + "".join(f"<td>{_fmt(a.summary.get(key), kind)}</td>" for a in attacks) + "</tr>"
        for key, label, kind in SUMMARY_ROWS)
    return (f'<table class="summary"><thead><tr><th class="name">run</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            '<p class="note">ΔB/B, ΔA/A, ΔS/S, l2 and acceleration change average over the '
            "successful adversarial samples; emotion consistency is the share whose predicted "
            "emotion is unchanged.</p>")


def sample_order(attack: AttackOutput, limit: int) -> np.ndarray:
    """Rows shown in the viewer: successful samples first, then the others, at most `limit`."""
    rows = np.concatenate([np.flatnonzero(attack.success), np.flatnonzero(~attack.success)])
    return rows[:limit]


def _sample_json(a: AttackOutput, row: int) -> dict[str, Any]:
    length = max(int(a.lengths[row]), 1)
    persons = present_persons(a.clean[row], length)
    clean = sequence_points(a.clean[row], length, a.layout.up_axis, persons)
    adv = sequence_points(a.adversarial[row], length, a.layout.up_axis, persons)
    clean_i = np.rint(clean / COORD_SCALE).astype(np.int64)
    adv_i = np.rint(adv / COORD_SCALE).astype(np.int64)
    emo = a.clean_emotion is not None
    return {
        "index": int(a.indices[row]), "name": a.names[row],
        "label": a.class_name(int(a.labels[row])), "pred": a.class_name(int(a.clean_pred[row])),
        "adv": a.class_name(int(a.adv_pred[row])), "success": bool(a.success[row]),
        "emotion_before": a.emotion_name(int(a.clean_emotion[row])) if emo else None,
        "emotion_after": a.emotion_name(int(a.adv_emotion[row])) if emo else None,
        "frames": int(clean.shape[0]), "persons": int(clean.shape[1]), "scale": COORD_SCALE,
        "clean": clean_i.ravel().tolist(), "delta": (adv_i - clean_i).ravel().tolist(),
        "heat": np.round(a.perturbation(row) * 1000, 2).ravel().tolist(),  # (V, T) mm
        "view": [round(v, 4) for v in default_view(clean, a.layout)],
    }


def _viewer(k: int, a: AttackOutput) -> str:
    means = a.joint_mean() * 1000
    top = max(float(means.max()), 1e-9)
    bars = "".join(
        f'<div class="bar"><span class="label">{html.escape(name)}</span>'
        f'<span class="fill" style="width:{200 * m / top:.0f}px"></span>{m:.2f} mm</div>'
        for name, m in zip(a.layout.joints, means, strict=True))
    return f"""
<section class="ela-viewer" data-run="{k}">
<h3>{html.escape(a.title)}</h3>
<div class="controls">
  <label>sample <select class="sample"></select></label>
  <button class="play" type="button">▶ play</button>
  <input class="frame" type="range" min="0" max="0" value="0" step="1" aria-label="frame">
  <span class="frame-label"></span>
  <button class="reset" type="button">reset view</button>
  <span class="note">drag a picture to rotate the camera</span>
</div>
<div class="labels"></div>
<div class="legend note"><span style="background:#1a9641"></span>original
  <span style="background:#d7191c"></span>adversarial</div>
<div class="stages">
  <svg class="stage overlay" viewBox="0 0 360 400" xmlns="http://www.w3.org/2000/svg"></svg>
  <svg class="stage side" viewBox="0 0 720 400" xmlns="http://www.w3.org/2000/svg"></svg>
</div>
<div class="cols">
<div><h3>Per-joint perturbation over time (this sample)</h3>
<svg class="heat" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div class="bars"><h3>Mean per joint, successful samples</h3>{bars}</div>
</div>
</section>"""


def _training(t: TrainingOutput) -> str:
    classes, cm = t.classes, t.confusion
    share = row_normalise(cm)
    m = t.metrics
    scores = ", ".join(f"{k} {_fmt(m.get(k), '%')}" for k in ("accuracy", "uar", "wap")
                       if m.get(k) is not None)
    if "mean" in m and "std" in m:
        scores += " (fold means; " + ", ".join(
            f"{k} {100 * m['mean'][k]:.1f} ± {100 * m['std'][k]:.1f} %"
            for k in ("uar", "war") if k in m["mean"] and k in m["std"]) + ")"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in classes)
    body = "".join(
        f'<tr><th class="name">{html.escape(c)}</th>' + "".join(
            f'<td style="background:rgba(49,130,189,{share[i, j]:.2f});'
            f'color:{"#fff" if share[i, j] > 0.6 else "#222"}">{cm[i, j]}</td>'
            for j in range(len(classes))) + "</tr>"
        for i, c in enumerate(classes))
    recall = m.get("per_class_recall") or dict(zip(classes, np.diag(share).tolist(),
                                                     strict=True))
    bars = "".join(
        f'<div class="bar"><span class="label">{html.escape(c)}</span>'
        + (f'<span class="fill" style="width:{200 * r:.0f}px"></span>{100 * r:.1f} %'
           if r is not None else "no test sample") + "</div>"
        for c, r in recall.items())
    return f"""
<section class="training"><h3>{html.escape(t.title)}</h3><p>{scores}</p>
<div class="cols"><div><table class="confusion"><thead><tr><th class="name">true \\ predicted
</th>{head}</tr></thead><tbody>{body}</tbody></table></div>
<div class="bars"><h3>Per-class recall</h3>{bars}</div></div></section>"""


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _transfer(t: TransferOutput) -> str:
    """The surrogate × target matrix of transfer success (fooled / clean-correct) with the
    adversarial / clean accuracy under it; white-box cells are marked."""
    r = t.result
    cells = {(c["row"], c["column"]): c for c in r["cells"]}
    methods = {c["row"]: f"{c['method']} on {c['surrogate_model']}" for c in r["cells"]}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in r["columns"])
    body = "".join(
        f'<tr><th class="name">{html.escape(str(row))} ({html.escape(methods[i])})</th>'
        + "".join(
            f"<td>{_percent(c['transfer_success'])} ({c['fooled']}/{c['clean_correct']})"
            + (" *" if c["white_box"] else "")
            + f'<br><span class="note">acc {_percent(c["adversarial_accuracy"])} / '
              f'{_percent(c["clean_accuracy"])}</span></td>'
            for c in (cells[i, j] for j in range(len(r["columns"]))))
        + "</tr>" for i, row in enumerate(r["rows"]))
    return (f'<section class="transfer"><h3>{html.escape(t.title)}</h3>'
            '<table class="summary"><thead><tr><th class="name">attack (rows) \\ target '
            f"(columns)</th>{head}</tr></thead><tbody>{body}</tbody></table>"
            f'<p class="note">{html.escape(r.get("definition", ""))}; under each: accuracy on '
            "the adversarial / clean sequences of the attacked samples.</p></section>")


def _robustness(o: RobustnessOutput) -> str:
    """The robustness plot (inlined PNG) and the median change to fool per attack folder."""
    r = o.result
    measures = r["measures"]
    picture = (f'<img alt="robust accuracy vs budget" style="max-width:100%" '
               f'src="data:image/png;base64,'
               f'{base64.b64encode(o.plot.read_bytes()).decode("ascii")}">'
               if o.plot is not None else
               f'<p class="note">{html.escape(str(o.folder))} holds no robustness.png</p>')
    head = "".join(f"<th>{html.escape(m['label'])} ({html.escape(m['unit'])})</th>"
                   for m in measures.values())
    body = "".join(
        f'<tr><th class="name">{html.escape(c["label"])} ({html.escape(str(c["method"]))} on '
        f'{html.escape(str(c["model"]))})</th><td>{_percent(c.get("clean_accuracy"))}</td>'
        f'<td>{_percent(c["fooled"])}</td>'
        + "".join("<td>∞</td>" if c["median"][k] is None
                  else f"<td>{c['median'][k] * m['scale']:.3g}</td>"
                  for k, m in measures.items()) + "</tr>"
        for c in r["curves"])
    return (f'<section class="robustness"><h3>{html.escape(o.title)}</h3>{picture}'
            '<table class="summary"><thead><tr><th class="name">median change to fool</th>'
            f"<th>clean accuracy</th><th>fooled</th>{head}</tr></thead><tbody>{body}"
            "</tbody></table>"
            f'<p class="note">{html.escape(r.get("denominator", ""))}. Note: '
            f'{html.escape(r.get("note", ""))}. ∞: half or more never fooled.</p></section>')


def _card(o: CardOutput) -> str:
    """The model card (its Markdown, as written by `ela card`)."""
    return (f'<section class="card"><h3>{html.escape(o.title)}</h3>'
            f"<pre>{html.escape(o.text)}</pre></section>")


def build_html(outputs: Sequence[Output], max_samples: int = 12,
               title: str = "ela report") -> str:
    """The report as one HTML string (inline script, styles and data; no network)."""
    attacks = [o for o in outputs if isinstance(o, AttackOutput)]
    trainings = [o for o in outputs if isinstance(o, TrainingOutput)]
    transfers = [o for o in outputs if isinstance(o, TransferOutput)]
    robustness = [o for o in outputs if isinstance(o, RobustnessOutput)]
    cards = [o for o in outputs if isinstance(o, CardOutput)]
    runs = [{"title": a.title, "joints": list(a.layout.joints),
             "edges": [list(e) for e in a.layout.edges], "fps": 15,
             "samples": [_sample_json(a, int(r)) for r in sample_order(a, max_samples)]}
            for a in attacks if len(a)]
    data = json.dumps({"runs": runs}, separators=(",", ":")).replace("</", "<\\/")
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">written {time.strftime("%Y-%m-%d %H:%M")} from '
             + ", ".join(html.escape(str(o.folder)) for o in outputs) + "</p>"]
    if attacks:
        parts += ["<h2>Attacks</h2>", summary_table(attacks), "<h2>Samples</h2>"]
        parts += [_viewer(k, a) for k, a in enumerate(a for a in attacks if len(a))]
    if cards:
        parts += ["<h2>Model cards</h2>"] + [_card(o) for o in cards]
    if robustness:
        parts += ["<h2>Robustness</h2>"] + [_robustness(o) for o in robustness]
    if transfers:
        parts += ["<h2>Transfer</h2>"] + [_transfer(t) for t in transfers]
    if trainings:
        parts += ["<h2>Training runs</h2>"] + [_training(t) for t in trainings]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_asset('report.css')}</style></head><body>\n" + "\n".join(parts)
        + f'\n<script type="application/json" id="ela-data">{data}</script>\n'
        f"<script>{_asset('viewer.js')}</script>\n</body></html>\n")


def write_html(outputs: Sequence[Output], out: str | Path,
               max_samples: int = 12, title: str = "ela report") -> Path:
    """Write `build_html` to `out` atomically; returns the path."""
    return atomic_write_bytes(out, build_html(outputs, max_samples, title).encode("utf-8"))


def attack_figures(a: AttackOutput, folder: str | Path, row: int | None = None,
                   animation: bool = True) -> list[Path]:
    """Strip (PNG, PDF, SVG) and GIF (+ MP4 with ffmpeg) of one sample into `folder`.

    `row` defaults to the first successful sample (the first sample when none succeeded).
    """
    if len(a) == 0:
        return []
    row = int(sample_order(a, 1)[0]) if row is None else row
    if not 0 <= row < len(a):
        raise ElaError(f"sample row {row} out of range: {a.folder} holds {len(a)} samples")
    folder = Path(folder)
    name = f"{a.folder.name}_sample{int(a.indices[row])}"
    title = (f"{a.names[row]}: true {a.class_name(int(a.labels[row]))}, adversarial "
             f"{a.class_name(int(a.adv_pred[row]))} ({a.summary.get('method', '?')})")
    written = plot_strip(a.clean[row], a.adversarial[row], int(a.lengths[row]), a.layout,
                         folder / f"{name}_strip", row_titles=[a.summary.get("method", "adv")],
                         title=title)
    if animation:
        args = (a.clean[row], a.adversarial[row], int(a.lengths[row]), a.layout)
        written.append(animate_sample(*args, folder / f"{name}.gif", title=title))
        if ffmpeg_available():
            written.append(animate_sample(*args, folder / f"{name}.mp4", title=title))
    return written


def comparison_strip(attacks: Sequence[AttackOutput], out: str | Path,
                     row: int | None = None) -> list[Path]:
    """Figure 1 across methods: a sample attacked successfully by every run given (same
    dataset index), original row then one row per run. [] when there is no such sample.
    `row` (of the first attack's adversarial.npz) picks the sample when every run fooled
    it; otherwise, and by default, the lowest dataset index all of them fooled."""
    if len(attacks) < 2:
        return []
    common = set(attacks[0].indices[attacks[0].success].tolist())
    for a in attacks[1:]:
        common &= set(a.indices[a.success].tolist())
    same_shape = len({a.clean.shape[1:] for a in attacks}) == 1
    if not common or not same_shape:
        return []
    wanted = int(attacks[0].indices[row]) if row is not None and \
        0 <= row < len(attacks[0].indices) else None
    index = wanted if wanted in common else min(common)
    rows = [int(np.flatnonzero(a.indices == index)[0]) for a in attacks]
    first, r0 = attacks[0], rows[0]
    advs = [a.adversarial[r] for a, r in zip(attacks, rows, strict=True)]
    title = f"{first.names[r0]} (true {first.class_name(int(first.labels[r0]))})"
    return plot_strip(first.clean[r0], advs, int(first.lengths[r0]), first.layout, out,
                      row_titles=[str(a.summary.get("method", a.folder.name)) for a in attacks],
                      title=title)


def write_report(paths: Sequence[str | Path], html_out: str | Path | None = None,
                 figures: bool = True, animation: bool = True, max_samples: int = 12,
                 row: int | None = None) -> list[Path]:
    """Pictures and the HTML report of attack / training / transfer / robustness folders;
    returns every file written.

    Static pictures go to ``<folder>/figures/`` of each folder (strip + animation for an
    attack, confusion PNG for a training run; a robustness folder has its plot already);
    with several attacks on the same samples a method-comparison strip goes next to the
    HTML file. `html_out` None: no HTML.
    """
    outputs = find_outputs(list(paths))
    written: list[Path] = []
    if figures:
        for o in outputs:
            folder = o.folder / "figures"
            if isinstance(o, AttackOutput):
                written += attack_figures(o, folder, row, animation)
            elif isinstance(o, TrainingOutput):
                written += plot_confusion(o.confusion, o.classes, folder / "confusion",
                                          title=o.title)
    if html_out is not None:
        html_out = Path(html_out)
        attacks = [o for o in outputs if isinstance(o, AttackOutput)]
        if figures:
            written += comparison_strip(attacks, html_out.with_name(html_out.stem + "_strip"),
                                        row)
        written.append(write_html(outputs, html_out, max_samples))
    return written
