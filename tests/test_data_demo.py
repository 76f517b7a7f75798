"""The procedural demo dataset: a plausible, rigid, seeded skeleton whose labels are learnable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ela.data import ACTIONS, EMOTIONS, demo_dataset, stratified_kfold
from ela.data.demo import GESTURES
from ela.errors import ElaError
from ela.skeleton import bone_lengths


@pytest.fixture(scope="module")
def demo():
    return demo_dataset(n_per_class=4, frames=48, seed=7)


def stacked(data) -> np.ndarray:
    """(N, 3, T, V) positions."""
    return data.to_array()[0][..., 0]


def test_shape_labels_and_meta(demo):
    assert len(demo) == len(ACTIONS) * len(EMOTIONS) * 4
    assert demo.layout.name == "ntu25" and demo.fps == 30.0
    assert demo.label_names == {"action": list(ACTIONS), "emotion": list(EMOTIONS)}
    for s in demo.samples:
        assert s.data.shape == (3, 48, 25, 1) and s.data.dtype == np.float32
        assert demo.label_names["action"][s.labels["action"]] in s.meta["name"]
        assert s.meta["clip"] == s.meta["name"] and 1 <= s.meta["performer"] <= 5
    pairs = demo.labels("action") * 10 + demo.labels("emotion")
    assert set(np.bincount(pairs)[np.unique(pairs)]) == {4}
    assert len({s.meta["name"] for s in demo.samples}) == len(demo)


def test_bone_lengths_are_constant(demo):
    x, _ = demo.to_array()
    lengths = bone_lengths(torch.from_numpy(x), demo.layout)  # (N, T, B, 1)
    rel = (lengths - lengths[:, :1]).abs() / lengths[:, :1]
    assert rel.max().item() < 1e-4
    assert lengths.min().item() > 0.04 and lengths.max().item() < 0.5  # metres


def test_upright_metres_on_the_floor(demo):
    p = stacked(demo)
    lay = demo.layout
    y = p[:, 1]
    assert np.all(y[:, :, lay.index("head")] > y[:, :, lay.index("spine_base")])
    assert np.all(y[:, :, lay.index("head")] > y[:, :, lay.index("left_hip")])
    feet = y[:, :, [lay.index("left_foot"), lay.index("right_foot")]].min(axis=(1, 2))
    assert np.all(feet > -0.05) and np.all(feet < 0.1)
    height = y[:, :, lay.index("head")].max(axis=1) - feet
    assert np.all(height > 1.0) and np.median(height) > 1.5


def test_seeded(demo):
    again = demo_dataset(n_per_class=4, frames=48, seed=7)
    np.testing.assert_array_equal(stacked(demo), stacked(again))
    other = demo_dataset(n_per_class=4, frames=48, seed=8)
    assert not np.allclose(stacked(demo), stacked(other))


def test_emotions_change_speed_and_posture(demo):
    p = stacked(demo)
    speed = np.linalg.norm(np.diff(p, axis=2), axis=1).mean(axis=(1, 2))
    lay = demo.layout
    offset = p[:, :, :, lay.index("head")] - p[:, :, :, lay.index("spine_base")]
    lean = np.linalg.norm(offset[:, [0, 2]], axis=1).mean(axis=1)  # horizontal, m
    actions, emotions = demo.labels("action"), demo.labels("emotion")
    angry, sad, neutral = (EMOTIONS.index(e) for e in ("angry", "sad", "neutral"))
    for a in range(len(ACTIONS)):
        mean = {e: speed[(actions == a) & (emotions == e)].mean() for e in (angry, sad, neutral)}
        assert mean[angry] > mean[neutral] > mean[sad], ACTIONS[a]
        slump = {e: lean[(actions == a) & (emotions == e)].mean() for e in (sad, neutral)}
        assert slump[sad] > slump[neutral] + 0.05, ACTIONS[a]


def nearest_centroid_accuracy(feat: np.ndarray, labels: np.ndarray, target: np.ndarray) -> float:
    """Mean 3-fold accuracy of predicting `target` by the nearest centroid of `labels`."""
    accs = []
    for split in stratified_kfold(labels, 3, seed=0):
        mu, sd = feat[split.train].mean(0), feat[split.train].std(0) + 1e-8
        f = (feat - mu) / sd
        classes = np.unique(labels[split.train])
        cent = np.stack([f[split.train][labels[split.train] == c].mean(0) for c in classes])
        pick = classes[np.argmin(((f[split.test][:, None] - cent[None]) ** 2).sum(-1), 1)]
        to_target = {c: target[labels == c][0] for c in classes}
        accs.append(np.mean([to_target[c] for c in pick] == target[split.test]))
    return float(np.mean(accs))


def simple_features(p: np.ndarray) -> np.ndarray:
    """Mean and spread of the pose, mean speed and acceleration of every joint."""
    rel = p - p[:, :, :, :1]
    return np.concatenate([
        rel.mean(2).reshape(len(p), -1), rel.std(2).reshape(len(p), -1),
        np.linalg.norm(np.diff(p, axis=2), axis=1).mean(1),
        np.linalg.norm(np.diff(p, 2, axis=2), axis=1).mean(1),
    ], axis=1)


def test_classes_are_separable_by_simple_features():
    data = demo_dataset(n_per_class=6, frames=48, seed=1)
    feat = simple_features(stacked(data))
    actions, emotions = data.labels("action"), data.labels("emotion")
    assert nearest_centroid_accuracy(feat, actions, actions) > 0.8  # chance 0.2
    pair = actions * len(EMOTIONS) + emotions
    assert nearest_centroid_accuracy(feat, pair, emotions) > 0.6  # chance 0.25


@pytest.fixture(scope="module")
def gestures():
    """The set `ela demo` runs on: close arm gestures with within-class variation."""
    return demo_dataset(n_per_class=4, frames=48, seed=7, actions=GESTURES, variation=1.0)


def test_gestures_are_rigid_upright_standing_and_move_the_arms(gestures):
    x, _ = gestures.to_array()
    lengths = bone_lengths(torch.from_numpy(x), gestures.layout)
    assert ((lengths - lengths[:, :1]).abs() / lengths[:, :1]).max().item() < 1e-4
    assert lengths.min().item() > 0.04 and lengths.max().item() < 0.5
    p, lay = stacked(gestures), gestures.layout
    y = p[:, 1]
    assert np.all(y[:, :, lay.index("head")] > y[:, :, lay.index("spine_base")])
    feet = p[:, :, :, [lay.index("left_foot"), lay.index("right_foot")]]
    assert np.all(feet[:, 1] > -0.05) and np.all(feet[:, 1] < 0.1)
    # standing: the feet stay where they are (up to a happy bounce of 4 cm)
    assert np.ptp(feet[:, [0, 2]], axis=2).max() < 0.005 and np.ptp(feet, axis=2).max() < 0.06
    hand = p[:, :, :, lay.index("right_hand")]
    assert np.all(np.linalg.norm(np.ptp(hand, axis=2), axis=1) > 0.05)  # the arm acts


def test_variation_keeps_the_plain_set_and_spreads_each_class(gestures):
    plain = demo_dataset(n_per_class=4, frames=48, seed=7, actions=GESTURES)
    assert np.array_equal(stacked(plain),
                          stacked(demo_dataset(4, 48, seed=7, actions=GESTURES, variation=0)))
    assert [s.meta for s in plain.samples] == [s.meta for s in gestures.samples]
    again = demo_dataset(n_per_class=4, frames=48, seed=7, actions=GESTURES, variation=1.0)
    np.testing.assert_array_equal(stacked(gestures), stacked(again))

    def spread(data) -> float:  # within-(action, emotion) spread of the mean pose, m
        p = stacked(data)
        pose = (p - p[:, :, :, :1]).mean(2).reshape(len(p), -1)
        pair = data.labels("action") * len(EMOTIONS) + data.labels("emotion")
        return float(np.mean([pose[pair == c].std(0).mean() for c in np.unique(pair)]))

    assert spread(gestures) > 1.5 * spread(plain)
    with pytest.raises(ElaError, match="variation"):
        demo_dataset(2, 10, variation=-1)


def test_gestures_are_learnable_but_closer_than_the_whole_body_actions():
    def accuracy(actions) -> float:
        data = demo_dataset(n_per_class=6, frames=48, seed=1, actions=actions, variation=1.0)
        labels = data.labels("action")
        return nearest_centroid_accuracy(simple_features(stacked(data)), labels, labels)

    assert 0.5 < accuracy(GESTURES) < accuracy(ACTIONS)  # chance 0.2


def test_subsets_and_errors():
    small = demo_dataset(2, 10, seed=0, actions=("bow", "jump"), emotions=("sad",))
    assert len(small) == 4 and small.label_names["action"] == ["bow", "jump"]
    with pytest.raises(ElaError, match="dance.*wipe"):
        demo_dataset(2, 10, actions=("dance",))
    with pytest.raises(ElaError, match="n_per_class"):
        demo_dataset(0, 10)
