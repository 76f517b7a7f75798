"""Pictures and the HTML report: projection, static files, `ela report`, a real browser."""

from __future__ import annotations

import json
import math
import pickle
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import shared
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.data.transforms import centre, resample
from ela.errors import DataFormatError
from ela.io import read, write_npz
from ela.skeleton import get_layout
from ela.viz import camera_axes, default_view, load_attack, project, sequence_points
from ela.viz.projection import TO_Y_UP

MSR_FILES = ("a01_s01_e01", "a06_s03_e02", "a16_s05_e01")  # wave, throw, jogging


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """A tiny real pipeline through the CLI: action + emotion runs and an ELA attack."""
    root = tmp_path_factory.mktemp("viz")
    data = root / "demo.npz"
    write_npz(demo_dataset(n_per_class=3, frames=24, actions=("walk", "wave", "bow"), seed=1),
              data)
    action, emotion, attack = root / "hcn", root / "emo", root / "attack_ela"
    assert main(["train", "--model", "hcn", "--data", str(data), "--label", "action",
                 "--out", str(action), "--frames", "16", "--epochs", "10", "--split",
                 "holdout:0.6,0.1,0.3", "--cfg", "width=0.25", "window=16"]) == 0
    assert main(["train", "--model", "sstgcn", "--data", str(data), "--layout", "gait16",
                 "--label", "emotion", "--out", str(emotion), "--frames", "16", "--epochs",
                 "1", "--cfg", "channels=[8,8]", "temporal_kernel=3"]) == 0
    assert main(["attack", str(action), "--data", str(data), "--method", "ela", "--emotion",
                 str(emotion), "--iters", "50", "--samples", "3", "--out", str(attack)]) == 0
    return {"action": action, "emotion": emotion, "attack": attack, "root": root}


@pytest.fixture(scope="module")
def msr_report(tmp_path_factory):
    """Real MSR Action3D sequences, prepared as the attacks see them (centred, 32 frames),
    in an attack-folder layout whose "adversarial" version moves the arms by a few mm."""
    folder = shared("msr_action3d")
    layout = get_layout("kinect20")
    clips = [read(folder / f"{name}_skeleton3D.txt", format="msr").samples[0]
             for name in MSR_FILES]
    clean = np.stack([resample(centre(s.data, layout), 32) for s in clips])
    arms = np.array([("wrist" in n or "hand" in n) for n in layout.joints], np.float32)
    adv = clean.copy()
    t = np.linspace(0, 2 * np.pi, 32, dtype=np.float32)
    adv[:, 0] += 0.01 * np.sin(t)[None, :, None, None] * arms[None, None, :, None]
    out = tmp_path_factory.mktemp("msr") / "attack_msr"
    out.mkdir()
    n = len(clips)
    np.savez(out / "adversarial.npz", clean=clean, adversarial=adv,
             lengths=np.full(n, 32), labels=np.arange(n), clean_pred=np.arange(n),
             adv_pred=(np.arange(n) + 1) % n, success=np.ones(n, bool), indices=np.arange(n),
             layout=np.array("kinect20"), classes=np.array(["wave", "throw", "jog"]))
    (out / "summary.json").write_text(json.dumps({"method": "arm-shift", "model": "none",
                                                  "n": n, "success_rate": 1.0}))
    html = out / "report.html"
    assert main(["report", str(out), "--out", str(html), "--no-animation"]) == 0
    return html, clean, layout


# --- projection -------------------------------------------------------------------------

@pytest.mark.parametrize("azimuth,elevation", [(0.0, 0.0), (0.7, 0.3), (-2.5, -1.0), (3.1, 1.2)])
def test_camera_is_a_rotation_never_a_mirror(azimuth, elevation):
    right, up = camera_axes(azimuth, elevation)
    assert np.allclose([right @ right, up @ up, right @ up], [1, 1, 0])
    toward = np.array([math.sin(azimuth) * math.cos(elevation), math.sin(elevation),
                       math.cos(azimuth) * math.cos(elevation)])
    assert np.allclose(np.cross(right, up), toward)  # right-handed screen
    for axis, matrix in TO_Y_UP.items():
        assert np.isclose(np.linalg.det(matrix), 1.0)
        assert np.allclose(matrix @ np.eye(3)[axis], [0, 1, 0])


def test_msr_skeletons_project_upright_and_facing_the_viewer(shared_data):
    layout = get_layout("kinect20")
    head, feet = layout.index("head"), [layout.index("left_foot"), layout.index("right_foot")]
    ls, rs = layout.index("left_shoulder"), layout.index("right_shoulder")
    for name in MSR_FILES:
        sample = read(shared_data("msr_action3d") / f"{name}_skeleton3D.txt", format="msr")
        x = sample.samples[0].data
        pts = sequence_points(x, x.shape[1], layout.up_axis)
        uv = project(pts, *default_view(pts, layout))[:, 0]  # (T, V, 2)
        assert (uv[:, head, 1] > uv[:, feet, 1].max(axis=1) + 1.0).all(), name  # > 1 m
        # the performer faces the default camera: their left shoulder is on screen right
        assert np.median(uv[:, ls, 0] - uv[:, rs, 0]) > 0.15, name


# --- static pictures and the report files -------------------------------------------------

def _non_blank(path: Path, min_size: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as im:
        assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1], im.size
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
    assert (rgb.min(axis=2) < 200).mean() > 0.005  # ink on more than 0.5 % of the pixels
    return rgb


def test_report_command_writes_pictures_and_html(demo_runs, capsys):
    html = demo_runs["root"] / "report.html"
    assert main(["report", str(demo_runs["action"]), str(demo_runs["emotion"]),
                 str(demo_runs["attack"]), "--out", str(html)]) == 0
    printed = [Path(p) for p in capsys.readouterr().out.split()]
    assert all(p.is_file() for p in printed) and html in printed
    figures = demo_runs["attack"] / "figures"
    strip = next(figures.glob("*_strip.png"))
    rgb = _non_blank(strip, (1000, 300))
    red = (rgb[..., 0] > 180) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    green = (rgb[..., 1] > 120) & (rgb[..., 0] < 80) & (rgb[..., 2] < 100)
    assert red.sum() > 500 and green.sum() > 500  # adversarial red and original green drawn
    assert next(figures.glob("*_strip.pdf")).read_bytes().startswith(b"%PDF")
    assert b"<svg" in next(figures.glob("*_strip.svg")).read_bytes()[:2000]
    with Image.open(next(figures.glob("*.gif"))) as gif:
        assert gif.n_frames == 16  # one frame per valid frame of the sample
    _non_blank(demo_runs["action"] / "figures" / "confusion.png", (300, 300))

    text = html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing online
    data = json.loads(re.search(r'id="ela-data">(.*?)</script>', text, re.S)[1])
    run = data["runs"][0]
    attack = load_attack(demo_runs["attack"])
    assert len(run["samples"]) == len(attack) and run["joints"] == list(attack.layout.joints)
    s = run["samples"][0]
    assert s["emotion_before"] is not None  # the emotion model's prediction travels along
    assert len(s["clean"]) == s["frames"] * s["persons"] * attack.layout.num_joints * 3
    assert len(s["heat"]) == s["frames"] * attack.layout.num_joints
    assert "confusion" in text and attack.summary["method"] in text


def test_report_refuses_folders_without_results(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_a_damaged_adversarial_file_is_named(demo_runs, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(demo_runs["attack"], bad)
    with np.load(bad / "adversarial.npz") as f:
        arrays = {k: f[k] for k in f.files if k != "success"}
    np.savez(bad / "adversarial.npz", **arrays)
    with pytest.raises(DataFormatError, match="success"):
        load_attack(bad)


@pytest.mark.parametrize("content", ["pickle", "object array", "random bytes"])
def test_a_pickled_adversarial_file_is_refused_and_named(demo_runs, tmp_path, content):
    bad = tmp_path / "bad"
    shutil.copytree(demo_runs["attack"], bad)
    path = bad / "adversarial.npz"
    if content == "pickle":
        path.write_bytes(pickle.dumps({"clean": [1.0]}))
    elif content == "object array":
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        np.savez(path, **{**arrays, "classes": np.array([{"a": 1}], dtype=object)})
    else:
        path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataFormatError, match="adversarial.npz") as err:
        load_attack(bad)
    assert "allow_pickle" not in str(err.value)


# --- a real headless browser ----------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if chromium is None or driver is None:
        pytest.skip("chromium and chromium-driver are not installed "
                    "(apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1280,1500",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=options)
    yield drv
    drv.quit()


def _errors(drv) -> list[dict]:
    return [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def _joints(drv, which: str = "clean") -> np.ndarray:
    """(V, 2) screen positions of the overlay's first person."""
    points = drv.execute_script(
        "return Array.from(document.querySelectorAll("
        f"'.ela-viewer svg.overlay g.{which} g.person[data-person=\"0\"] circle'))"
        ".map(c => [+c.getAttribute('cx'), +c.getAttribute('cy')]);")
    return np.array(points, dtype=np.float64)


def test_report_in_a_browser_slider_play_rotate(browser, demo_runs):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    html = demo_runs["root"] / "report.html"
    if not html.exists():
        assert main(["report", str(demo_runs["root"]), "--out", str(html),
                     "--no-animation"]) == 0
    browser.get(html.as_uri())
    assert _errors(browser) == []
    label = browser.find_element(By.CSS_SELECTOR, ".ela-viewer .frame-label")
    assert label.text == "frame 1 / 16"
    before = _joints(browser, "adv")
    assert len(before) == 25 and np.isfinite(before).all()

    slider = browser.find_element(By.CSS_SELECTOR, ".ela-viewer input.frame")
    slider.send_keys(Keys.END)  # keyboard on the real range input
    assert label.text == "frame 16 / 16"
    assert np.abs(_joints(browser, "adv") - before).max() > 1.0  # the drawn frame changed
    slider.send_keys(Keys.HOME)
    assert np.allclose(_joints(browser, "adv"), before)

    stage = browser.find_element(By.CSS_SELECTOR, ".ela-viewer svg.overlay")
    ActionChains(browser).click_and_hold(stage).move_by_offset(80, 0).release().perform()
    rotated = _joints(browser, "adv")
    assert label.text == "frame 1 / 16" and np.abs(rotated - before).max() > 5.0
    browser.find_element(By.CSS_SELECTOR, ".ela-viewer button.reset").click()
    assert np.allclose(_joints(browser, "adv"), before)

    browser.find_element(By.CSS_SELECTOR, ".ela-viewer button.play").click()
    time.sleep(0.5)
    browser.find_element(By.CSS_SELECTOR, ".ela-viewer button.play").click()
    assert label.text != "frame 1 / 16"  # playing advanced the frames
    shot = demo_runs["root"] / "report_screenshot.png"
    assert browser.save_screenshot(str(shot))
    _non_blank(shot, (1000, 800))
    assert _errors(browser) == []


def test_msr_report_in_a_browser_is_upright_and_not_mirrored(browser, msr_report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    html, clean, layout = msr_report
    browser.get(html.as_uri())
    assert _errors(browser) == []
    head = layout.index("head")
    feet = [layout.index("left_foot"), layout.index("right_foot")]
    ls, rs = layout.index("left_shoulder"), layout.index("right_shoulder")
    slider = browser.find_element(By.CSS_SELECTOR, ".ela-viewer input.frame")
    for _ in range(4):
        uv = _joints(browser)
        # screen y grows downwards: the head is well above both feet
        assert uv[head, 1] < uv[feet, 1].min() - 100, uv[[head, *feet]]
        # height on screen is about the real height: a proportionate, upright figure
        span = uv[feet, 1].max() - uv[head, 1]
        width = uv[:, 0].max() - uv[:, 0].min()
        assert span > width
        assert uv[ls, 0] > uv[rs, 0]  # facing the viewer, left shoulder on the right
        slider.send_keys(Keys.PAGE_UP * 2)
    browser.save_screenshot(str(html.with_suffix(".png")))
    assert _errors(browser) == []


def test_comparison_strip_draws_the_chosen_row_when_every_attack_fooled_it(tmp_path,
                                                                          monkeypatch):
    """`ela report --sample ROW` also picks the method-comparison strip's sample."""
    from ela.skeleton import get_layout
    from ela.viz import report
    from ela.viz.load import AttackOutput

    def attack(success):
        x = np.zeros((3, 3, 4, 20, 1), dtype=np.float32)
        n = len(success)
        return AttackOutput(tmp_path, {"method": "m"}, x, x + 0.01, np.full(n, 4),
                            np.zeros(n, int), np.zeros(n, int), np.ones(n, int),
                            np.array(success), np.array([10, 11, 12]), get_layout("kinect20"),
                            ["a", "b"], ["s10", "s11", "s12"])

    drawn = []
    monkeypatch.setattr(report, "plot_strip",
                        lambda clean, advs, *a, title, **k: drawn.append(title) or [])
    both = [attack([True, True, True]), attack([True, False, True])]
    report.comparison_strip(both, tmp_path / "s", row=2)
    report.comparison_strip(both, tmp_path / "s", row=1)  # not fooled by both: the first one
    report.comparison_strip(both, tmp_path / "s")
    assert [t.split()[0] for t in drawn] == ["s12", "s10", "s10"]
