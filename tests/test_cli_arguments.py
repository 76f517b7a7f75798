"""The command line's own checks: every option has help, and arguments that can be checked
without data are refused before any data is read or any file is written."""

from __future__ import annotations

import argparse

import pytest

from ela.cli import build_parser, main
from ela.models.registry import list_models


def _options(parser: argparse.ArgumentParser, path: list[str]):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, [*path, name])
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(path), action


def test_every_option_of_every_command_has_help():
    missing = [f"{cmd} {a.option_strings or a.dest}" for cmd, a in _options(build_parser(), [])
               if not (a.help or "").strip()]
    assert not missing, f"options without help: {missing}"


def test_train_help_lists_the_models(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name in list_models("action") + list_models("emotion"):
        assert name in text


def test_models_and_attacks_list_their_options(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "hcn: width=1.0" in text and "2s-agcn: channels=None" in text
    assert main(["attacks"]) == 0
    text = capsys.readouterr().out
    assert "ela: " in text and "steps=2000" in text and "smart: " in text


NO_DATA = "/nonexistent/data/folder"  # never read: the checks come first


@pytest.mark.parametrize("args,message", [
    (["--model", "nosuch"], "unknown --model 'nosuch'"),
    (["--model", "hcn", "--epochs", "0"], "--epochs must be ≥ 1, got 0"),
    (["--model", "hcn", "--batch-size", "0"], "--batch-size must be ≥ 1, got 0"),
    (["--model", "hcn", "--lr", "-1"], "--lr must be > 0"),
    (["--model", "hcn", "--augment", "wobble:3"], "--augment"),
])
def test_train_refuses_bad_arguments_before_reading_data(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    code = main(["train", *args, "--data", NO_DATA, "--label", "action", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("args,message", [
    (["--samples", "0"], "--samples must be ≥ 1, got 0"),
    (["--samples", "-3"], "--samples must be ≥ 1, got -3"),
    (["--batch-size", "0"], "--batch-size must be ≥ 1, got 0"),
    (["--method", "smart", "--gamma", "1"], "--gamma applies to ela only"),
    (["--method", "cw", "--cfg", "outer_iters=3"], "unknown option(s) outer_iters"),
    (["--method", "ela", "--iters", "5"], "steps ≥ inner_steps, got steps=5"),
])
def test_attack_refuses_bad_arguments_before_reading_data(tmp_path, capsys, args, message):
    out = tmp_path / "attack"
    code = main(["attack", str(tmp_path / "run"), *args, "--data", NO_DATA, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_experiment_checks_every_attack_of_its_grid_before_reading_data(tmp_path, capsys):
    """`--iters 5` is too few for ELA's 10 inner steps: said before any cell runs."""
    out = tmp_path / "grid"
    code = main(["experiment", "paper", "--runs", str(tmp_path / "run"), "--data", NO_DATA,
                 "--iters", "5", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "ELA:" in err and "steps=5" in err and "Traceback" not in err
    assert not out.exists()


def test_smart_takes_iters_as_its_steps(tmp_path, capsys):
    """`ela attack --method smart --iters 20` used to end in a TypeError; it is checked and
    reaches the data now (which is absent here, so the error names the data)."""
    code = main(["attack", str(tmp_path / "run"), "--method", "smart", "--iters", "20",
                 "--data", NO_DATA, "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2 and "TypeError" not in err and "nonexistent" in err


def test_random_bytes_as_npz_get_no_advice_to_unpickle(tmp_path, capsys):
    bad = tmp_path / "random.npz"
    bad.write_bytes(bytes(range(256)) * 8)
    assert main(["data", "info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "random.npz" in err and "not an .npz archive" in err
    assert "allow_pickle" not in err


def test_empty_folder_names_the_command_line_flag(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path)]) == 2
    assert "pass --format" in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    from ela.data.demo import demo_dataset
    from ela.io import write_npz

    path = tmp_path_factory.mktemp("demo") / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=16, actions=("walk", "wave"), seed=1), path)
    return path


def test_unknown_split_lists_every_kind_of_split(demo_file, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "hcn", "--data", str(demo_file), "--label", "action",
                 "--split", "nosuch", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    for name in ("msr-cross-subject", "cross-view", "holdout", "kfold:K", "emotion5", ".json"):
        assert name in err
    assert not out.exists()


def test_retraining_a_finished_run_names_the_options_that_differ(demo_file, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "hcn", "--data", str(demo_file), "--label", "action",
            "--frames", "16", "--cfg", "width=0.25", "window=16", "--out", str(out)]
    assert main([*args, "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert f"reading {demo_file}" in err and "read 24 samples (ntu25) in" in err
    assert "epoch 1/2" in err and "ETA" in err  # the whole run's remaining time
    assert main([*args, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "epochs: 2 → 1" in err and "weight_decay" not in err  # only what differs


def test_batch_progress_line_names_steps_active_fooled_and_eta(capsys):
    from ela.attacks.base import Progress
    from ela.runs.progress import BatchProgress

    report = BatchProgress("attack ela, batch 2/5", on_tty=False, every=0.0)
    report(Progress(step=500, budget=2000, active=7, fooled=30, samples=32))
    line = capsys.readouterr().err.strip()
    assert line.startswith("attack ela, batch 2/5: step 500/2000, 7 samples active, 30/32 "
                           "fooled, ETA ≤ ")


def test_version_is_the_installed_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"ela {version('ela')}"
