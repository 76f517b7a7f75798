"""Manifests under bad input: `read_manifest` reads a file or raises DataFormatError naming it."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ela.data.manifest import read_manifest
from ela.errors import DataFormatError

GOOD_CSV = "audio,transcript,skeleton,label,group\na.wav,hello there,clip.npz,angry,s1\n"
GOOD_JSONL = '{"audio": "a.wav", "transcript": "hi", "skeleton": "c.npz", "label": "sad"}\n'


def _mutate(text: str, data) -> str:
    ops = data.draw(st.lists(st.sampled_from(["cut", "insert", "dup", "drop"]), max_size=4))
    for op in ops:
        if not text:
            break
        i = data.draw(st.integers(0, len(text)))
        if op == "cut":
            text = text[:i]
        elif op == "insert":
            text = text[:i] + data.draw(st.text(string.printable + "{}\",\x00é", max_size=8)) \
                + text[i:]
        elif op == "dup":
            text = text + text[i:]
        else:
            text = text[:i] + text[i + 1:]
    return text


@settings(max_examples=150, deadline=2000, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_mutated_manifests_read_or_raise_our_error(tmp_path, data, suffix):
    path = tmp_path / f"manifest{suffix}"
    path.write_text(_mutate(GOOD_CSV if suffix == ".csv" else GOOD_JSONL, data),
                    encoding="utf-8", errors="surrogatepass")
    try:
        entries = read_manifest(path)
    except DataFormatError as err:
        assert str(path) in str(err)
        return
    assert entries and all(str(e.label) for e in entries)


def test_binary_and_empty_manifests_raise_naming_the_file(tmp_path):
    for name, content in (("empty.csv", b""), ("binary.jsonl", b"\xff\xfe\x00garbage")):
        path = tmp_path / name
        path.write_bytes(content)
        try:
            read_manifest(path)
        except DataFormatError as err:
            assert name in str(err)
        else:
            raise AssertionError(f"{name} was accepted")
