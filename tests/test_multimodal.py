"""Multimodal emotion recognition: manifest, text, models, and a full run on real speech.

The real multimodal set is built here: for 4 emotions, speech synthesised by espeak-ng with
emotion-typical prosody (pitch, speed, loudness) in several voices, transcripts, and
skeletons from the Bandai-1 motion-capture clips of the matching style mapped to upper10.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared
from ela.cli import main
from ela.data.manifest import (
    ModalityBatch,
    MultimodalDataset,
    load_multimodal,
    read_manifest,
)
from ela.data.transforms import build_transform
from ela.errors import DataFormatError, ElaError
from ela.models.registry import create_model
from ela.text import Vocabulary, embedding_matrix, read_glove, tokenize
from ela.training import load, save_checkpoint
from ela.training.loop import evaluate

# emotion -> (Bandai-1 style, espeak pitch 0-99, speed words/min, amplitude 0-200)
PROSODY = {"angry": ("angry", 35, 210, 180), "happy": ("happy", 80, 185, 130),
           "sad": ("sad", 20, 105, 50), "neutral": ("normal", 50, 150, 100)}
SENTENCES = {
    "angry": ["I am furious with you", "stop shouting at me now", "this is outrageous"],
    "happy": ["what a wonderful surprise", "I love this sunny day", "we won the prize"],
    "sad": ["I miss her so much", "nobody came to the party", "the old dog died"],
    "neutral": ["the meeting starts at ten", "please close the door", "it is on the table"],
}
SHARED = "I read the letter again"  # said in every emotion: text alone cannot be perfect
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland")
CONTENTS = ("bow", "bye", "byebye", "guide", "walk")
TINY_SKELETON = {"smacn": {"stem": 8, "units": [8, 8, 16, 16], "att_dim": 16, "heads": 2},
                 "sstgcn": {"channels": [8, 16], "temporal_kernel": 3},
                 "2s-sstgcn": {"channels": [8, 16], "temporal_kernel": 3}}
TINY = {"audio_hidden": 16, "text_hidden": 16, "rep_dim": 16, "fusion_dim": 16,
        "embed_dim": 16, "dropout": 0.1}


def _batch(n: int = 3, vocab: int = 20) -> ModalityBatch:
    g = torch.Generator().manual_seed(0)
    return ModalityBatch(
        mfcc=torch.randn(n, 30, 39, generator=g), mfcc_length=torch.tensor([30, 12, 5][:n]),
        prosody=torch.randn(n, 35, generator=g),
        tokens=torch.randint(1, vocab, (n, 6), generator=g),
        tokens_length=torch.tensor([6, 2, 1][:n]),
        skeleton=torch.randn(n, 3, 16, 10, 1, generator=g))


def _tiny(name: str, **extra) -> torch.nn.Module:
    skel = {"smern": "smacn", "sern": "sstgcn", "sern-2s": "2s-sstgcn"}.get(name)
    cfg = {**TINY, "vocab_size": 20, **extra}
    if skel is not None:
        cfg["skeleton_cfg"] = TINY_SKELETON[skel]
    return create_model(name, "upper10", 4, **cfg)


# ---------------------------------------------------------------- text

def test_tokenize_and_vocabulary():
    assert tokenize("Don't SHOUT, it's well-known!") == ["don't", "shout", ",", "it's",
                                                         "well-known", "!"]
    vocab = Vocabulary.build(["I am happy", "I am sad", "so sad", "sad"])
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert vocab.words[2] == "sad" and set(vocab.words[3:5]) == {"am", "i"}  # by frequency
    assert vocab.encode("I am angry") == [vocab.index["i"], vocab.index["am"], 1]
    with pytest.raises(ElaError, match="starts with"):
        Vocabulary(["a", "b"])


def test_glove_reader_and_embedding_matrix(tmp_path):
    glove = tmp_path / "vectors.txt"
    glove.write_text("sad 0.1 0.2 0.3\nhappy -1 0 1\nunused 5 5 5\n", encoding="utf-8")
    assert set(read_glove(glove)) == {"sad", "happy", "unused"}
    vocab = Vocabulary.build(["happy or sad"])
    matrix, found = embedding_matrix(vocab, glove)
    assert matrix.shape == (len(vocab), 3) and found == 2
    np.testing.assert_allclose(matrix[vocab.index["happy"]], [-1, 0, 1])
    assert not matrix[0].any()  # padding
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.txt, line 2: 2 values"):
        read_glove(bad)
    bad.write_text("a 1 x 3\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 1: non-numeric"):
        read_glove(bad)


# ---------------------------------------------------------------- manifest

def test_manifest_csv_and_jsonl(tmp_path):
    (tmp_path / "a").mkdir()
    csv_file = tmp_path / "m.csv"
    csv_file.write_text("audio,text,video,label,group\n"
                        "a/1.wav,hello there,a/1.npz,happy,s1\n"
                        "a/2.wav,,a/2.npz,sad,\n", encoding="utf-8")
    rows = read_manifest(csv_file)
    assert [r.label for r in rows] == ["happy", "sad"]
    assert rows[0].audio == tmp_path / "a" / "1.wav" and rows[0].skeleton.name == "1.npz"
    assert rows[0].transcript == "hello there" and rows[1].transcript is None
    assert rows[0].group == "s1" and rows[1].group is None and rows[1].line == 3
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(json.dumps({"audio": "x.wav", "transcript": "hi", "label": "sad"}) + "\n\n",
                     encoding="utf-8")
    assert read_manifest(jsonl)[0].audio == tmp_path / "x.wav"


@pytest.mark.parametrize("text,match", [
    ("audio,transcript\nx.wav,hi\n", "no 'label' column"),
    ("label,colour\nsad,blue\n", r"line 2: unknown fields \['colour'\]"),
    ("label,audio\n,x.wav\n", "line 2: the row has no label"),
    ("label\n", "lists no samples"),
])
def test_manifest_errors_name_file_and_line(tmp_path, text, match):
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=match):
        read_manifest(path)


def test_manifest_missing_modality_and_unknown_class(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"transcript": "hi", "label": "sad"}) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="line 1: the row has no audio"):
        load_multimodal(path, ["audio", "text"])
    with pytest.raises(DataFormatError, match="'sad' is not one of"):
        load_multimodal(path, ["text"], classes=["happy"])
    data = load_multimodal(path, ["text"])
    assert data.texts == ["hi"] and data.classes == ["sad"]


# ---------------------------------------------------------------- models

FEATURE_WIDTH = {"smern": 48, "sern": 48, "sern-2s": 48, "mdre": 32, "are": 16, "tre": 16}


def test_every_registered_multimodal_model_is_tested():
    from ela.models.registry import list_models

    assert set(FEATURE_WIDTH) == set(list_models("multimodal"))


@pytest.mark.parametrize("name,width", sorted(FEATURE_WIDTH.items()))
def test_models_forward_and_features(name, width):
    model = _tiny(name).eval()
    logits, feats = model.forward_features(_batch())
    assert logits.shape == (3, 4) and feats.shape == (3, width)
    assert model.kind == "multimodal"


@pytest.mark.parametrize("modalities", [["audio"], ["text"], ["skeleton"], ["audio", "text"],
                                        ["audio", "skeleton"], ["text", "skeleton"]])
def test_dropping_modalities_gives_the_unimodal_and_bimodal_rows(modalities):
    model = _tiny("sern", modalities=modalities).eval()
    batch = _batch()
    logits = model(batch)
    assert logits.shape == (3, 4)
    assert set(model.representations(batch)) == set(modalities)
    # a modality the model does not use is not read
    unused = ({"audio": ("mfcc", "mfcc_length", "prosody"), "text": ("tokens", "tokens_length"),
               "skeleton": ("skeleton",)})
    slim = ModalityBatch({k: v for k, v in batch.items()
                          if any(k in unused[m] for m in modalities)})
    torch.testing.assert_close(model(slim), logits)


def test_gru_final_state_ignores_padding():
    model = _tiny("mdre").eval()
    batch = _batch(2)
    padded = ModalityBatch(batch)
    padded["mfcc"] = torch.cat([batch["mfcc"], torch.randn(2, 9, 39)], dim=1)
    padded["tokens"] = torch.cat([batch["tokens"], torch.zeros(2, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(padded), model(batch))
    changed = ModalityBatch(batch)
    changed["mfcc"] = batch["mfcc"].clone()
    changed["mfcc"][1, 5] += 3.0  # inside sample 1's 12 valid frames
    out = model(changed)
    torch.testing.assert_close(out[0], model(batch)[0])
    assert not torch.allclose(out[1], model(batch)[1])


def test_model_errors():
    with pytest.raises(ElaError, match="modalities"):
        _tiny("smern", modalities=["smell"])
    with pytest.raises(ElaError, match="dict batch"):
        _tiny("are")(torch.zeros(2, 3, 16, 10, 1))
    with pytest.raises(ElaError, match="lacks"):
        _tiny("mdre")(ModalityBatch(mfcc=torch.zeros(1, 5, 39)))
    with pytest.raises(ElaError, match="do not fit"):
        _tiny("tre").set_embedding(torch.zeros(5, 16))


def test_checkpoint_round_trip_keeps_audio_statistics(tmp_path):
    model = _tiny("smern")
    model.set_audio_stats(torch.full((39,), 2.0), torch.full((39,), 3.0), torch.ones(35),
                          torch.zeros(35))  # a zero std is treated as 1
    model.eval()
    save_checkpoint(model, tmp_path / "ck", {"classes": ["a", "b", "c", "d"]})
    loaded = load(tmp_path / "ck")
    torch.testing.assert_close(loaded(_batch()), model(_batch()))
    assert torch.equal(loaded.audio.prosody_std, torch.ones(35))


# ---------------------------------------------------------------- a real multimodal set

def _speak(path: Path, text: str, voice: str, pitch: int, speed: int, amp: int) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-a",
                    str(amp), "-w", str(path), text], check=True, capture_output=True)


@pytest.fixture(scope="module")
def espeak_set(tmp_path_factory):
    """32 utterances (4 emotions × 4 voices × 2 sentences) with matching Bandai-1 clips."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is absent (apt-get install espeak-ng)")
    pytest.importorskip("opensmile", reason="the opensmile package is absent "
                                            "(pip install 'ela[audio]')")
    bandai = shared("bandai1") / "data"
    root = tmp_path_factory.mktemp("espeak_set")
    rows = []
    rng = np.random.default_rng(0)
    for emotion, (style, pitch, speed, amp) in PROSODY.items():
        clips = [f for c in CONTENTS for f in sorted(bandai.glob(f"dataset-1_{c}_{style}_*.bvh"))]
        assert len(clips) >= 4, f"too few Bandai-1 clips of style {style}"
        for v, voice in enumerate(VOICES):
            for s, text in enumerate([SENTENCES[emotion][v % 3], SHARED]):
                wav = root / f"{emotion}_{v}_{s}.wav"
                _speak(wav, text, voice, pitch + int(rng.integers(-6, 7)),
                       speed + int(rng.integers(-15, 16)), amp)
                clip = clips[(2 * v + s) % len(clips)]
                rows.append({"audio": wav.name, "transcript": text, "skeleton": str(clip),
                             "label": emotion, "group": clip.stem})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def espeak_data(espeak_set):
    return load_multimodal(espeak_set)


def test_loaded_set_has_every_modality(espeak_data):
    data = espeak_data
    assert len(data) == 32 and data.classes == ["angry", "happy", "neutral", "sad"]
    assert data.prosody.shape == (32, 35) and all(m.shape[1] == 39 for m in data.mfcc)
    assert data.skeleton.layout.name == "upper10"
    assert all(s.data.shape[2] == 10 for s in data.skeleton.samples)
    # espeak's pitch setting shows in the extracted F0: sad (20) below happy (80)
    from ela.audio import PROSODY_NAMES

    f0 = data.prosody[:, PROSODY_NAMES.index("f0_mean")]
    by = {c: f0[data.labels == i].mean() for i, c in enumerate(data.classes)}
    assert by["sad"] < by["neutral"] < by["happy"]
    ds = MultimodalDataset(data, np.arange(5), Vocabulary.build(data.texts), frames=24)
    item, label, length = ds[0]
    assert item["skeleton"].shape == (3, 24, 10, 1) and length == 24
    assert item["mfcc"].shape == (max(len(m) for m in data.mfcc), 39)
    assert int(item["tokens_length"]) == len(tokenize(data.texts[0]))


def test_full_smern_run_trains_evaluates_and_reports_uar_war(espeak_set, espeak_data,
                                                            tmp_path):
    from ela.training.multimodal import run_multimodal_training

    out = tmp_path / "smern"
    cfg = {**TINY, "skeleton_cfg": TINY_SKELETON["smacn"]}
    from ela.training.loop import TrainConfig

    # no decay over 12 short epochs
    plain = TrainConfig(epochs=12, batch_size=8, lr=5e-3, weight_decay=0.0, schedule="none")
    metrics = run_multimodal_training(espeak_data, "smern", out, model_cfg=cfg, frames=32,
                                      train_config=plain, progress=False)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["num_folds"] == 5 and len(saved["folds"]) == 5
    assert np.sum(saved["confusion"]) == 32  # every utterance tested exactly once
    assert {"uar", "war", "wap"} <= set(saved["mean"]) and saved["war"] == saved["accuracy"]
    split = json.loads((out / "split.json").read_text())
    for fold in split["folds"]:  # utterances sharing a clip stay on one side
        groups = [{json.loads(espeak_set.read_text().splitlines()[i])["group"]
                   for i in fold[part]} for part in ("train", "val", "test")]
        assert not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    # prosody separates the four emotions well above chance (0.25)
    assert metrics["uar"] > 0.5, metrics["uar"]
    # the run folder holds the best-dev fold's checkpoint, which scores its own test part
    # exactly as during the run
    model = load(out)
    config = json.loads((out / "config.json").read_text())
    assert config["modalities"] == ["audio", "text", "skeleton"]
    fold = saved["folds"][config["fold"] - 1]
    test = split["folds"][config["fold"] - 1]["test"]
    ds = MultimodalDataset(espeak_data, test, Vocabulary(config["vocab"]), frames=32,
                           transform=build_transform(config["transform"],
                                                     espeak_data.skeleton.layout))
    scores, _, _ = evaluate(model, ds, 16, class_names=espeak_data.classes)
    assert scores["accuracy"] == pytest.approx(fold["accuracy"])
    from ela.training.multimodal import evaluate_multimodal_run
    again = evaluate_multimodal_run(out, espeak_data, tmp_path / "ev", part="test")
    assert again["accuracy"] == pytest.approx(fold["accuracy"])
    assert len((tmp_path / "ev" / "predictions.csv").read_text().splitlines()) == len(test) + 1


def test_cli_trains_mdre_from_a_manifest(espeak_set, tmp_path, capsys):
    rows = espeak_set.read_text(encoding="utf-8").splitlines()
    half = tmp_path / "half.jsonl"  # every other utterance: 4 per emotion, paths absolute
    half.write_text("".join(json.dumps({**json.loads(r), "audio": str(espeak_set.parent /
                                                                       json.loads(r)["audio"])})
                            + "\n" for r in rows[::2]), encoding="utf-8")
    out = tmp_path / "mdre"
    code = main(["train", "--model", "mdre", "--manifest", str(half), "--out", str(out),
                 "--epochs", "3", "--folds", "2", "--batch-size", "8", "--cfg",
                 "audio_hidden=8", "text_hidden=8", "rep_dim=8", "embed_dim=8"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "uar" in printed and "war" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["modalities"] == ["audio", "text"] and metrics["num_folds"] == 2
    assert main(["eval", str(out), "--manifest", str(half), "--part", "test"]) == 0
    assert "uar" in capsys.readouterr().out
    assert main(["eval", str(out)]) == 2  # neither --data nor --manifest
    assert main(["train", "--model", "hcn", "--out", str(out)]) == 2
