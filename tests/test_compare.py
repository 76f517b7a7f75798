"""Attack folders compared over the samples every method fooled."""

from __future__ import annotations

import csv

import pytest

from ela.errors import DataFormatError, ElaError
from ela.runs.compare import METRICS, common_success


def _folder(path, rows):
    path.mkdir()
    columns = ["index", "success", *METRICS, "clean_emotion", "adv_emotion"]
    with (path / "samples.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for index, success, value, emotions in rows:
            writer.writerow([index, success, *([value] * len(METRICS)), *emotions])
    return path


def test_common_success_averages_only_samples_all_methods_fooled(tmp_path):
    a = _folder(tmp_path / "a", [(0, True, 0.1, (1, 1)), (1, True, 0.3, (1, 2)),
                                 (2, True, 0.5, (0, 0))])
    b = _folder(tmp_path / "b", [(0, True, 1.0, (1, 1)), (1, False, 9.0, (1, 1)),
                                 (2, True, 3.0, (0, 1)), (5, True, 7.0, (0, 0))])
    indices, (sa, sb) = common_success([a, b])
    assert indices == [0, 2]  # 1: b failed; 5: a never attacked it
    assert sa["n"] == sb["n"] == 2
    assert sa["bone_length_change"] == pytest.approx(0.3)
    assert sb["joint_speed_change"] == pytest.approx(2.0)
    assert sa["emotion_consistency"] == 1.0 and sb["emotion_consistency"] == 0.5


def test_common_success_without_emotion_model_and_without_common_sample(tmp_path):
    a = _folder(tmp_path / "a", [(0, True, 0.1, ("", "")), (1, False, 0.2, ("", ""))])
    b = _folder(tmp_path / "b", [(1, True, 0.1, ("", ""))])
    indices, (sa, _) = common_success([a, b])
    assert indices == [] and sa["n"] == 0 and sa["l2"] is None
    assert sa["emotion_consistency"] is None
    c = _folder(tmp_path / "c", [(7, True, 0.1, ("", ""))])
    with pytest.raises(ElaError, match="share no sample"):
        common_success([a, c])


def test_missing_table_names_the_file(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="samples.csv"):
        common_success([tmp_path / "empty"])


def test_a_table_written_before_a_metric_existed_gives_none_for_it(tmp_path):
    old = _folder(tmp_path / "old", [(0, True, 0.1, ("", ""))])
    rows = list(csv.reader((old / "samples.csv").open()))
    keep = [i for i, name in enumerate(rows[0]) if name not in ("bone_turn", "centre_shift")]
    with (old / "samples.csv").open("w", newline="") as f:
        csv.writer(f).writerows([[row[i] for i in keep] for row in rows])
    new = _folder(tmp_path / "new", [(0, True, 0.2, ("", ""))])
    _, (so, sn) = common_success([old, new])
    assert so["bone_turn"] is None and so["centre_shift"] is None
    assert so["bone_length_change"] == pytest.approx(0.1)
    assert sn["bone_turn"] == pytest.approx(0.2)
