"""The README and the manual (docs/) hold to their word.

- every relative link and #anchor in README.md and docs/*.md resolves (anchors as both
  MkDocs and GitHub make them from headings);
- the committed CLI reference is what the parser prints, and every results table is what
  `scripts/docs_results.py` makes from the files under docs/results/ — change one number
  in a result file and the check fails;
- the README's quick start and Python example run as written (on ../shared/data).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from conftest import script

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATA = ROOT.parent / "shared" / "data"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.DOTALL | re.MULTILINE)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> str:
    """`text` without fenced code blocks and inline code (links there are not links)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug_mkdocs(heading: str) -> str:
    """Python-Markdown's toc slugify (MkDocs' default)."""
    value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def slug_github(heading: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen."""
    value = re.sub(r"[^\w\- ]", "", heading.lower())
    return value.replace(" ", "-")


def anchors(path: Path) -> tuple[set[str], set[str]]:
    """The heading anchors of a Markdown file, as MkDocs and as GitHub make them."""
    headings = [re.sub(r"[`*]", "", m[1]).strip()
                for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", path.read_text()),
                                     re.MULTILINE)]
    return {slug_mkdocs(h) for h in headings}, {slug_github(h) for h in headings}


def test_slugs_match_both_renderers():
    assert slug_mkdocs("ELA's default D on MSR Action3D and Bandai-2") == \
        slug_github("ELA's default D on MSR Action3D and Bandai-2") == \
        "elas-default-d-on-msr-action3d-and-bandai-2"
    assert slug_mkdocs("Video → skeleton") == "video-skeleton"
    assert slug_github("Video → skeleton") == "video--skeleton"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest}")
            continue
        if anchor:
            mkdocs, github = anchors(dest)
            if anchor not in mkdocs or anchor not in github:
                broken.append(f"{target}: no heading gives #{anchor} "
                              f"(MkDocs: {anchor in mkdocs}, GitHub: {anchor in github})")
    assert not broken, f"{page}: " + "; ".join(broken)


def test_link_checker_sees_a_broken_link(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[ok](#top) [bad](#nowhere) [gone](missing.md) `[code](x.md)`\n")
    mkdocs, github = anchors(page)
    targets = LINK.findall(prose(page.read_text()))
    assert targets == ["#top", "#nowhere", "missing.md"]
    assert "top" in mkdocs and "top" in github and "nowhere" not in mkdocs


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert ".venv/bin/ela" in text and "source .venv/bin/activate" in text


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_a_reader_cannot_follow(page: Path):
    text = page.read_text().lower()
    for words in ("the issue", "issue notes", "the issue's", "this session"):
        assert words not in text, f"{page} mentions {words!r}"


def test_cli_reference_is_what_the_parser_prints():
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == script("cli_reference").render(), (
        "docs/cli.md differs from the parser: run "
        ".venv/bin/python scripts/cli_reference.py --write")


def test_cli_reference_lists_every_command():
    text = script("cli_reference").render()
    for command in ("ela train", "ela attack", "ela data info", "ela report", "ela demo"):
        assert f"## `{command}`" in text


def test_results_tables_are_what_the_files_give():
    assert script("docs_results").main(["--check"]) == 0, (
        "a results table differs from docs/results/: run "
        ".venv/bin/python scripts/docs_results.py")


def copy_results(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    shutil.copytree(DOCS / "results", results)
    return results


def test_defence_tables_are_what_the_cards_give():
    """docs/robustness.md shows the defence choices and tables as the scripts write them from
    the committed files of docs/results/defence_msr (select*.json, cards, transfer)."""
    folder = DOCS / "results" / "defence_msr"
    page = (DOCS / "robustness.md").read_text(encoding="utf-8")
    table = (folder / "table.md").read_text(encoding="utf-8")
    assert script("defence_table").tables(folder) == table
    choices = []
    for stem in ("select", "select_sgn", "select_kfold"):
        select = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
        choices.append((folder / f"{stem}.md").read_text(encoding="utf-8"))
        assert script("select_defence").markdown(select) == choices[-1]
    for part in [*table.split("\n\n"), *choices]:
        assert part.strip() in page, "docs/robustness.md lost a defence table; paste it again"


def test_defaults_choice_is_what_the_rule_gives():
    """docs/results.md shows the rule of scripts/choose_defaults.py as it reads the committed
    tuning files of the six models, and on 16 other training samples of each (seed 1)."""
    rule = script("choose_defaults")
    tuning = DOCS / "results" / "tuning"
    for stem, choice in (("defaults", "defaults_choice.md"), ("seed1", "defaults_choice_seed1.md")):
        files = sorted(str(p) for p in tuning.glob(f"*_train_{stem}.json"))
        committed = (tuning / choice).read_text(encoding="utf-8")
        assert len(files) == 6
        assert rule.markdown(rule.read_tables(files)) == committed
        assert committed.strip() in (DOCS / "results.md").read_text(encoding="utf-8")


def test_defaults_test_check_is_what_the_script_gives():
    """docs/results.md shows `scripts/choose_defaults.py --test` on the committed test
    folders of the six models (ela_earlier, ela, cw, smart)."""
    folders = sorted(p.parent for p in (DOCS / "results").glob("*/test/ela_earlier"))
    assert len(folders) == 6
    order = ["msr_hcn", "msr_sgn", "msr_2s-agcn", "bandai2_hcn", "bandai2_sgn",
             "bandai2_2s-agcn"]
    folders.sort(key=lambda f: order.index(f.parent.name))
    table = script("choose_defaults").check_markdown(folders)
    assert table.strip() in (DOCS / "results.md").read_text(encoding="utf-8")


def test_results_check_fails_when_a_summary_number_changes(tmp_path: Path):
    results = copy_results(tmp_path)
    path = results / "demo" / "attack_ela" / "summary.json"
    summary = json.loads(path.read_text())
    summary["bone_length_change"] *= 1.5
    path.write_text(json.dumps(summary))
    assert script("docs_results").main(["--check", "--results", str(results)]) == 1


def test_results_check_fails_when_a_sample_changes(tmp_path: Path):
    results = copy_results(tmp_path)
    path = results / "demo" / "attack_cw" / "samples.csv"
    lines = path.read_text().splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    col = head.index("bone_length_change")
    first[col] = str(float(first[col]) * 10)
    path.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    assert script("docs_results").main(["--check", "--results", str(results)]) == 1


def test_results_check_fails_when_a_detector_auc_changes(tmp_path: Path):
    """Keys reach into nested values and lists: detect.json's methods.ela.auc, a tuning row;
    a row may read its own file (detect_variants.json)."""
    for name, edit in (("msr_hcn/detect.json", lambda d: d["methods"]["ela"]),
                       ("msr_hcn/detect_variants.json", lambda d: d["methods"]["ela_earlier"]),
                       ("tuning/msr_hcn_train.json", lambda d: d["rows"][5])):
        results = copy_results(tmp_path / name.replace("/", "_"))
        path = results / name
        data = json.loads(path.read_text())
        row = edit(data)
        key = "auc" if "auc" in row else "l2"
        row[key] = 0.9 * row[key] + 0.01
        path.write_text(json.dumps(data))
        assert script("docs_results").main(["--check", "--results", str(results)]) == 1, name


def test_results_rewrite_puts_the_numbers_in(tmp_path: Path):
    """Writing into a copy of the docs: the marked table is filled from the files."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# x\n\n<!-- results:demo_attacks -->\nold\n"
                                    "<!-- /results:demo_attacks -->\n")
    assert script("docs_results").main(["--root", str(root),
                                        "--results", str(DOCS / "results")]) == 0
    text = (root / "README.md").read_text()
    summary = json.loads((DOCS / "results" / "demo" / "attack_ela" / "summary.json").read_text())
    assert "old" not in text and f"{100 * summary['bone_length_change']:.2f} %" in text


def test_results_errors_name_what_is_wrong(tmp_path: Path, capsys):
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("<!-- results:no_such_table -->\n"
                                    "<!-- /results:no_such_table -->\n")
    assert script("docs_results").main(["--check", "--root", str(root)]) == 2
    assert "no table 'no_such_table'" in capsys.readouterr().err
    results = copy_results(tmp_path)
    (results / "demo" / "attack_cw" / "summary.json").unlink()
    (root / "README.md").write_text("<!-- results:demo_attacks -->\n"
                                    "<!-- /results:demo_attacks -->\n")
    assert script("docs_results").main(["--check", "--root", str(root),
                                        "--results", str(results)]) == 2
    assert "attack_cw/summary.json" in capsys.readouterr().err


def readme_block(marker: str) -> str:
    """The fenced block that follows ``<!-- test:MARKER -->`` in the README."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- test:{marker} -->\n```\w*\n(.*?)^```", text,
                      re.DOTALL | re.MULTILINE)
    assert match, f"README.md has no block marked <!-- test:{marker} -->"
    return match[1]


def fresh_checkout(tmp_path: Path) -> Path:
    """A folder laid out like a clone after `make run`: .venv in it, ../shared beside it."""
    if not (DATA / "msr_action3d").is_dir():
        pytest.skip(f"the real data is absent ({DATA / 'msr_action3d'})")
    repo = tmp_path / "ela"
    repo.mkdir()
    (repo / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "shared").symlink_to(DATA.parent)
    return repo


@pytest.mark.slow
def test_readme_quick_start_runs_as_written(tmp_path: Path):
    repo = fresh_checkout(tmp_path)
    if not (Path(sys.prefix) / "bin" / "activate").is_file():
        pytest.skip("the tests do not run inside a virtual environment with bin/activate")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block("quickstart")],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((repo / "runs/msr_hcn_quick/metrics.json").read_text())
    assert metrics["accuracy"] > 0.3  # 20 classes: chance is 0.05
    for method in ("ela", "cw"):
        summary = json.loads((repo / f"out/quick/{method}/summary.json").read_text())
        assert summary["n"] == 4 and summary["success_rate"] > 0
    assert (repo / "out/quick/report.html").stat().st_size > 0


@pytest.mark.slow
def test_readme_python_example_runs_as_written(tmp_path: Path):
    repo = fresh_checkout(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", readme_block("python")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ela", "cw"], done.stdout
    assert all("success" in line and "ΔB/B" in line for line in lines)


def test_python_page_shows_the_readme_example():
    page = (DOCS / "python.md").read_text()
    assert f"<!-- test:python -->\n```python\n{readme_block('python')}```" in page, (
        "docs/python.md's example differs from the README's")


def test_the_scripts_earlier_defaults_are_elas():
    """`EARLIER_CFG` of scripts/real_data.sh (what the defence and conf studies attack with)
    sets exactly `ela.attacks.ela.EARLIER_DEFAULTS`, the options the defaults' change
    moved, at their values before it."""
    from ela.attacks.ela import EARLIER_DEFAULTS, ELA

    text = (ROOT / "scripts" / "real_data.sh").read_text(encoding="utf-8")
    words = " ".join(re.findall(r'^EARLIER_CFG="(?:\$EARLIER_CFG )?([^"]*)"', text, re.M))
    cfg = {k: float(v) for k, v in (w.split("=") for w in words.split())}
    assert cfg == EARLIER_DEFAULTS
    defaults = ELA.options()
    assert all(defaults[k] != v for k, v in EARLIER_DEFAULTS.items())
