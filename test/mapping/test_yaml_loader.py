"""The bounded YAML loader: alias bombs, huge, binary, deep and self-referencing files fail fast
with one short line; ordinary files load exactly as ``yaml.safe_load`` loads them."""

from __future__ import annotations

import time

import pytest
import yaml

from exploy.errors import ExployError
from exploy.mapping import MappingError, load_mapping_file
from exploy.mapping.yaml_loader import YamlFileError, excerpt, load_yaml_file


def _bomb(levels: int = 9, width: int = 9) -> str:
    lines = ['a0: &a0 [' + ",".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _fails_fast(path, match, *, loader=load_yaml_file, error=YamlFileError, seconds=2.0):
    start = time.perf_counter()
    with pytest.raises(error, match=match) as info:
        loader(path)
    assert time.perf_counter() - start < seconds
    text = str(info.value)
    assert "\n" not in text and len(text) < 400, text
    return text


def test_alias_bomb_is_refused_with_a_short_message(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    assert len(path.read_bytes()) < 500  # 9**9 "lol"s once expanded
    _fails_fast(path, "expands to more than 100000 values through its aliases")


def test_alias_bomb_in_a_mapping_file_is_a_mapping_error(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb() + "components:\n  x: {names: *a8}\n")
    text = _fails_fast(path, "expands to more than", loader=load_mapping_file, error=MappingError)
    assert text.startswith(f"mapping file {path} ")


def test_aliases_under_the_cap_expand_like_safe_load(tmp_path):
    path = tmp_path / "ok.yaml"
    text = _bomb(levels=3, width=4)
    path.write_text(text)
    assert load_yaml_file(path) == yaml.safe_load(text)


def test_self_referencing_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n")
    _fails_fast(path, "refers to a value that contains it")


def test_large_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("components:\n" + "".join(f"  c{i}: {{topic: /t{i}}}\n" for i in range(200_000)))
    assert path.stat().st_size > 4_000_000
    _fails_fast(path, r"is larger than 1048576 bytes", seconds=0.5)


def test_many_values_under_the_size_cap_are_refused_fast(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("components:\n" + "".join(f"  c{i}: {{topic: /t{i}}}\n" for i in range(30_000)))
    assert path.stat().st_size < 1 << 20
    _fails_fast(path, "has more than 100000 values", seconds=1.0)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(bytes(range(256)) * 8)
    _fails_fast(path, r"is not UTF-8 text \(byte 128 is b'\\x80'\); is it a binary file\?")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[" * 5000 + "]" * 5000, "deeper|depth"),
        ("".join("{a: " for _ in range(200)) + "1" + "}" * 200, "deeper than 32 levels at line 1"),
        ("a:\n" + "".join(" " * (2 * i) + "- \n" for i in range(1, 100)), "deeper than 32 levels"),
    ],
    ids=["flow-list", "flow-map", "block"],
)
def test_deep_nesting_is_refused_without_recursion_error(tmp_path, text, match):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    _fails_fast(path, match)


def test_aliases_that_nest_deeper_than_the_cap_are_refused(tmp_path):
    lines = ["a0: &a0 " + "[" * 20 + "1" + "]" * 20]
    lines += [f"a{i}: &a{i} " + "[" * 20 + f"*a{i - 1}" + "]" * 20 for i in range(1, 60)]
    path = tmp_path / "deep_alias.yaml"
    path.write_text("\n".join(lines) + "\n")
    _fails_fast(path, "aliases nest values deeper than 32 levels")


def test_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [1, 2\n")
    _fails_fast(path, r"is not valid YAML at line 3, column 1")


def test_missing_file_and_directory(tmp_path):
    _fails_fast(tmp_path / "nope.yaml", r"Cannot read YAML file .*nope.yaml: No such file or directory")
    _fails_fast(tmp_path, r"Cannot read YAML file .*: Is a directory")


def test_yaml_error_is_an_exploy_error():
    assert issubclass(YamlFileError, ExployError)


def test_empty_file_is_none(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    assert load_yaml_file(path) is None


def test_excerpt_is_bounded_on_huge_and_recursive_values():
    huge = [["x" * 10_000] * 1000] * 1000
    assert len(excerpt(huge)) <= 80
    loop: list = []
    loop.append(loop)
    assert len(excerpt(loop)) <= 80
    assert excerpt("a\nb") == "'a\\nb'"


def test_mapping_error_quotes_a_bounded_excerpt(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("components:\n  x: {topic: '" + "a/" * 5000 + "'}\n")
    text = _fails_fast(path, "is not a valid ROS topic name", loader=load_mapping_file, error=MappingError)
    assert len(text) < 400


def test_duplicate_check_of_a_long_names_list_is_fast(tmp_path):
    path = tmp_path / "names.yaml"
    names = ", ".join(f"j{i}" for i in range(20_000))
    path.write_text(f"components:\n  x: {{names: [{names}, j7]}}\n")
    _fails_fast(path, r"joint names \['j7'\] appear more than once", loader=load_mapping_file, error=MappingError)


def test_key_written_twice_is_refused(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("components:\n  a: {topic: /x}\n  b: {}\n  a: {topic: /y}\n")
    _fails_fast(path, r"key 'a' appears twice in one mapping \(lines 2 and 4\); keep one")
    path.write_text("base: &b {x: 1}\nmerged: {<<: *b, x: 2}\n")
    assert load_yaml_file(path) == {"base": {"x": 1}, "merged": {"x": 2}}
