"""`ela detect`: detectors of adversarial sequences, scored by ROC-AUC with a bootstrap
interval, on attack folders whose changes are known (a loud one a detector must find, a
quiet one it cannot), and the detection metrics against their definitions."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import NOISE_FRAMES, noise_attack, script
from ela.cli import main
from ela.errors import ElaError
from ela.runs.detect import LEARNED_BELOW, DetectorSettings, markdown, run_detect
from ela.training.checkpoint import load
from ela.training.metrics import bootstrap_interval, roc_auc, true_positive_rate_at

T = NOISE_FRAMES


def test_roc_auc_is_the_share_of_correctly_ordered_pairs():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=40), 1)  # ties on purpose
    positive = rng.random(40) < 0.4
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0
             for p, n in itertools.product(scores[positive], scores[~positive])]
    assert roc_auc(scores, positive) == pytest.approx(np.mean(pairs))
    assert roc_auc(np.r_[0.0, 1.0], np.r_[False, True]) == 1.0
    assert roc_auc(np.r_[1.0, 0.0], np.r_[False, True]) == 0.0
    assert np.isnan(roc_auc(np.r_[1.0, 0.0], np.r_[True, True]))


def test_detection_rate_at_a_false_alarm_rate():
    negatives = np.arange(100.0)  # 5 % of them (95..99) lie above 94
    positives = np.array([94.5, 96.0, 50.0, 200.0])
    scores = np.r_[negatives, positives]
    labels = np.r_[np.zeros(100, bool), np.ones(4, bool)]
    # the threshold lets at most 5 of 100 negatives pass: scores above 94 are flagged
    assert true_positive_rate_at(scores, labels, 0.05) == pytest.approx(3 / 4)
    assert true_positive_rate_at(scores, labels, 0.0) == pytest.approx(1 / 4)


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_data():
    rng = np.random.default_rng(1)

    def width(n: int) -> float:
        scores = np.r_[rng.normal(0, 1, n), rng.normal(1, 1, n)]
        labels = np.r_[np.zeros(n, bool), np.ones(n, bool)]
        groups = np.r_[np.arange(n), np.arange(n)]
        low, high = bootstrap_interval(lambda r: roc_auc(scores[r], labels[r]), groups, 300)
        assert low <= roc_auc(scores, labels) <= high
        return high - low

    assert width(400) < width(25)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("detect")
    train = [f"loud={noise_attack(tmp / 'train_loud', 'cw', 0.05, 1)}",
             f"quiet={noise_attack(tmp / 'train_quiet', 'ela', 1e-5, 2)}"]
    test = [f"loud={noise_attack(tmp / 'test_loud', 'cw', 0.05, 3)}",
            f"quiet={noise_attack(tmp / 'test_quiet', 'ela', 1e-5, 4)}"]
    settings = DetectorSettings(epochs=30, bootstrap=200, device="cpu", restarts=1)
    return tmp, run_detect(train, test, tmp / "out", settings), train, test


def test_a_loud_attack_is_found_and_a_quiet_one_is_not(report):
    tmp, r, _, _ = report
    loud, quiet = r["methods"]["loud"], r["methods"]["quiet"]
    assert loud["auc"] > 0.95 and loud["caught_at_5pct"] > 0.8
    assert quiet["auc"] < loud["auc_low"]
    assert 0.25 < quiet["auc"] < 0.8  # 5 cm of noise vs 10 µm: the second is invisible
    for row in (loud, quiet, *r["pooled"].values()):
        assert row["auc_low"] <= row["auc"] <= row["auc_high"]
        assert row["n_test"] in (24, 48) and row["n_train"] in (24, 48)
    assert r["pooled"]["all"]["n_test"] == 48
    saved = json.loads((tmp / "out" / "detect.json").read_text())
    assert saved["methods"]["loud"]["auc"] == pytest.approx(loud["auc"])
    model = load(loud["detector"])  # the detector is a run folder like any other
    assert model.num_classes == 2


def test_a_detector_that_stays_at_chance_loss_is_marked_as_not_learned(report):
    """The loud attack's detector learns (held-out loss far below ln 2); the quiet one's
    cannot, and its AUC near 0.5 is marked in the table as saying nothing of the attack."""
    _, r, _, _ = report
    loud, quiet = r["methods"]["loud"], r["methods"]["quiet"]
    for row in (loud, quiet):
        tries = json.loads((Path(row["detector"]) / "restarts.json").read_text())
        assert row["held_out_loss"] == pytest.approx(min(t["loss"] for t in tries))
        assert row["learned"] == (row["held_out_loss"] < LEARNED_BELOW * math.log(2))
    assert loud["learned"] and not quiet["learned"]
    lines = {line.split(" |")[0]: line for line in markdown(r).splitlines()}
    assert "did not learn" in lines["| quiet"] and "did not learn" not in lines["| loud"]


def test_more_trainings_only_while_none_has_learned(report, tmp_path, capsys):
    """--max-restarts: the loud attack's detector learns at its first training and stops
    there; the quiet one's never learns and takes every training allowed."""
    _, _, train, test = report
    settings = DetectorSettings(epochs=30, bootstrap=20, device="cpu", restarts=1,
                                max_restarts=3)
    r = run_detect(train, test, tmp_path / "out", settings)
    tries = {name: json.loads((Path(row["detector"]) / "restarts.json").read_text())
             for name, row in r["methods"].items()}
    assert [t["seed"] for t in tries["loud"]] == [0]
    assert [t["seed"] for t in tries["quiet"]] == [0, 1, 2]
    assert not r["methods"]["quiet"]["learned"]
    code = main(["detect", "--train", *train, "--test", *test, "--out", str(tmp_path / "x"),
                 "--restarts", "3", "--max-restarts", "2"])
    assert code == 2 and "--max-restarts must be ≥ 3, got 2" in capsys.readouterr().err


def test_cli_prints_the_table_and_reuses_trained_detectors(report, capsys):
    tmp, r, train, test = report
    detector = tmp / "out" / "detectors" / "loud" / "model.safetensors"
    before = detector.stat().st_mtime_ns
    assert main(["detect", "--train", *train, "--test", *test, "--out", str(tmp / "out"),
                 "--epochs", "30", "--bootstrap", "200", "--restarts", "1",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "| loud |" in out and "| quiet |" in out and "detect.json" in out
    assert detector.stat().st_mtime_ns == before  # same settings: not trained again
    again = json.loads((tmp / "out" / "detect.json").read_text())
    assert again["methods"]["loud"]["auc"] == pytest.approx(r["methods"]["loud"]["auc"])


def test_a_test_folder_without_a_training_folder_is_refused(report, tmp_path):
    _, _, train, test = report
    with pytest.raises(ElaError, match="no training-part attack folder for other"):
        run_detect(train, [*test, test[0].replace("loud=", "other=")], tmp_path)
    odd = tmp_path / "odd"
    noise_attack(odd, "cw", 0.05, 5)
    with np.load(odd / "adversarial.npz") as f:
        arrays = dict(f)
    for key in ("clean", "adversarial"):
        arrays[key] = arrays[key][:, :, :8]
    np.savez(odd / "adversarial.npz", **arrays)
    with pytest.raises(ElaError, match="one input space"):
        run_detect(train, [f"loud={odd}"], tmp_path)


def test_validation_sequences_set_the_threshold_when_given(report, tmp_path):
    """--calibrate: every detector's threshold is the 95 % quantile of its scores on the
    clean sequences of the validation-part folders (not the held-out training pairs'),
    and threshold.json says where it came from."""
    from ela.runs.detect import attacked_scores, guard_threshold
    from ela.viz.load import load_attack

    tmp, _, train, test = report
    val = noise_attack(tmp_path / "val", "cw", 0.05, 8)
    settings = DetectorSettings(epochs=3, bootstrap=50, device="cpu", restarts=1)
    r = run_detect(train, test, tmp_path / "out", settings, calibrate=[val])
    clean = load_attack(val).clean
    for folder in (r["methods"]["loud"]["detector"], r["pooled"]["all"]["detector"]):
        model = load(folder)
        expected = float(np.quantile(attacked_scores(model, clean), 0.95))
        assert guard_threshold(folder) == pytest.approx(expected)
        saved = json.loads((Path(folder) / "threshold.json").read_text())
        assert saved["calibrated_on"] == f"24 clean sequences of {val}"
    assert r["calibrated_on"] == f"24 clean sequences of {val}"
    rows = "index,name\n" + "".join(f"{i},a01_s01_e{i:02d}\n" for i in range(24))
    named = [noise_attack(tmp_path / f"named_{m}", m, 0.05, seed)
             for m, seed in (("cw", 9), ("val", 10))]
    for folder in named:
        (Path(folder) / "samples.csv").write_text(rows)
    with pytest.raises(ElaError, match="a01_s01_e00.*also in a --train folder"):
        run_detect([named[0]], [named[0]], tmp_path / "out", settings, calibrate=[named[1]])


def test_held_out_pairs_share_no_clean_sequence_with_training(tmp_path):
    """Two attacks on the same samples give each clean sequence twice; a held-out split by
    pair would train on the clean copy it then calibrates the threshold on."""
    from ela.runs.detect import held_out, pairs_of
    from ela.viz.load import load_attack

    folders = [load_attack(noise_attack(tmp_path / m, m, 0.01, 7)) for m in ("ela", "cw")]
    pairs = pairs_of(folders)
    val = held_out(pairs, DetectorSettings(val_share=0.25))
    assert 0 < val.mean() < 0.5
    assert not set(pairs.sample[val]) & set(pairs.sample[~val])
    assert (np.bincount(pairs.sample[val]) % 4 == 0).all()  # 2 attacks × (clean, attacked)


def test_a_group_hold_out_holds_out_whole_subjects(tmp_path):
    """--hold-out-group: the held-out samples are whole groups (subjects) found by a regular
    expression in the names, never seen in training; a name it misses is named."""
    from ela.runs.detect import groups_of, held_out, pairs_of
    from ela.viz.load import load_attack

    folders = []
    for m in ("ela", "cw"):
        folder = Path(noise_attack(tmp_path / m, m, 0.01, 7))
        rows = "".join(f"{i},a01_s{i % 4 + 1:02d}_e01\n" for i in range(24))
        (folder / "samples.csv").write_text("index,name\n" + rows)
        folders.append(load_attack(folder))
    pairs = pairs_of(folders)
    subject = r"_s(\d+)_"
    val = held_out(pairs, DetectorSettings(val_share=0.25, group=subject))
    groups = groups_of(pairs, subject)
    assert sorted(set(groups)) == ["01", "02", "03", "04"]
    assert len(set(groups[val])) == 1 and not set(groups[val]) & set(groups[~val])
    assert val.sum() == 4 * 6  # 6 samples of one subject × 2 attacks × (clean, attacked)
    with pytest.raises(ElaError, match="a01_s01_e01.*does not match"):
        held_out(pairs, DetectorSettings(group=r"x(\d+)"))
    with pytest.raises(ElaError, match="capture group"):
        held_out(pairs, DetectorSettings(group=r"s\d+"))
    with pytest.raises(ElaError, match="at least 2"):
        held_out(pairs, DetectorSettings(group=r"(a01)"))


def test_the_jerk_score_finds_noise_and_knows_a_cubic(report):
    """scripts/jerk_auc.py: a fixed score (no training) that finds the loud noise and not
    the quiet one; the mean squared jerk of x = t³ per coordinate is 6² for each of x, y, z,
    counted only over each sequence's frames."""
    jerk = script("jerk_auc")
    t = np.arange(10, dtype=float)
    x = np.zeros((1, 3, 12, 2, 1))
    x[0, :, :10] = t[None, :, None, None] ** 3
    x[0, :, 10:] = 1e6  # padding: never read
    assert jerk.mean_squared_jerk(x, np.array([10]))[0] == pytest.approx(3 * 36.0)
    tmp = report[0]
    method, n, auc = jerk.jerk_auc(str(tmp / "train_loud"))
    assert (method, n) == ("cw", 24) and auc > 0.95
    assert jerk.jerk_auc(str(tmp / "train_quiet"))[2] < 0.8


def test_score_detector_reproduces_the_pooled_scores_of_detect(report, monkeypatch, capsys):
    """scripts/score_detector.py scores a trained detector on any attack folder: on the
    test folders of `ela detect` it prints what detect.json holds for the pooled detector."""
    scorer = script("score_detector")
    tmp, r, _, test = report
    folders = [spec_.partition("=")[2] for spec_ in test]
    monkeypatch.setattr("sys.argv", ["score_detector.py", str(tmp / "out" / "detectors" /
                                                               "pooled"), *folders,
                                     "--bootstrap", "200", "--out", str(tmp / "scores.json")])
    scorer.main()
    rows = capsys.readouterr().out.splitlines()[2:]
    written = json.loads((tmp / "scores.json").read_text())["pooled"]
    for row, name, folder in zip(rows, ("loud", "quiet"), folders, strict=True):
        cells = row.strip("| ").split(" | ")
        pooled = r["pooled"][name]
        assert int(cells[1]) == pooled["n_test"]
        assert float(cells[2].split()[0]) == pytest.approx(pooled["auc"], abs=5e-4)
        assert float(cells[3].split()[0]) == pytest.approx(
            100 * pooled["caught_at_threshold"], abs=0.05)
        mine = written[Path(folder).name]
        assert mine["caught_at_threshold"] == pytest.approx(pooled["caught_at_threshold"])
        assert mine["caught_low"] <= mine["caught_at_threshold"] <= mine["caught_high"]


def test_the_change_spectrum_puts_a_drift_low_and_a_jitter_high(report):
    """scripts/change_spectrum.py: a slow half-cosine lands in the slowest frequencies, an
    alternating ±1 in the upper half; the loud noise of the fixture spreads over the band."""
    spec = script("change_spectrum")
    t = np.arange(T)
    drift = np.broadcast_to(np.cos(np.pi * (t + 0.5) / T)[None, :, None, None], (3, T, 2, 1))
    jitter = np.broadcast_to(((-1.0) ** t)[None, :, None, None], (3, T, 2, 1))
    assert spec.energy_shares(drift, 4) == pytest.approx((1.0, 0.0), abs=1e-9)
    low, high = spec.energy_shares(jitter, 4)
    assert low < 0.05 and high > 0.9
    assert np.isnan(spec.energy_shares(np.zeros((3, T, 2, 1)), 4)[0])
    tmp = report[0]
    method, n, rms, low, high = spec.spectrum(str(tmp / "train_loud"), 4)
    assert (method, n) == ("cw", 24)
    assert rms == pytest.approx(1000 * 0.05 * np.sqrt(3), rel=0.1)  # 5 cm per coordinate
    assert 0.15 < low < 0.35 and 0.4 < high < 0.6  # white noise: a share per frequency


def test_one_method_trains_one_detector(report, tmp_path):
    """With a single training name its detector and the pooled one would be the same
    training (same pairs, same seeds): it is made once and reported for both."""
    _, _, train, test = report
    settings = DetectorSettings(epochs=5, bootstrap=20, device="cpu", restarts=1)
    r = run_detect(train[:1], test[:1], tmp_path / "out", settings)
    assert sorted(p.name for p in (tmp_path / "out" / "detectors").iterdir()) == ["pooled"]
    assert r["methods"]["loud"] == r["pooled"]["loud"]
