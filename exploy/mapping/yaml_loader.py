"""A bounded YAML loader for the files users hand to exploy (mapping files, parameter files).

``yaml.safe_load`` trusts its input to be small and sane. A user's file is not: a 400-byte
"billion laughs" file of nested aliases expands to hundreds of millions of values (and to an
error message of hundreds of megabytes when the value is printed), deep nesting raises
``RecursionError``, and a binary file raises ``UnicodeDecodeError``. :func:`load_yaml_file`
bounds all of it before anything walks the document:

- the file's size (``max_bytes``) is checked before it is parsed;
- the text must be UTF-8;
- nesting deeper than ``max_depth`` collections, and more than ``max_nodes`` values, are refused
  from the parser's flat event stream, before anything recursive runs;
- the document's size *after alias expansion* (scalars and collections counted as seen by a
  walk that follows every alias) may not exceed ``max_nodes``; aliases that refer to
  themselves are refused, and so is a key written twice in one mapping (``safe_load`` would
  silently keep the last);
- every error is one line that quotes at most a short excerpt of the input
  (:func:`excerpt`), and raises :class:`YamlFileError`.
"""

from __future__ import annotations

import pathlib
import reprlib
from typing import Any

from exploy.errors import ExployError

DEFAULT_MAX_BYTES = 1 << 20
"""1 MiB: a mapping file for a robot with hundreds of joints is a few KiB."""

DEFAULT_MAX_NODES = 100_000
"""Values (scalars, lists, mappings) after alias expansion."""

DEFAULT_MAX_DEPTH = 32
"""Nested lists / mappings."""

EXCERPT_CHARS = 80


class YamlFileError(ExployError):
    """A user's YAML file is unreadable, too large, too deep, or not YAML."""


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = EXCERPT_CHARS
_REPR.maxother = EXCERPT_CHARS
for _attr in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
    setattr(_REPR, _attr, 6)


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A one-line ``repr`` of ``value`` of at most ``limit`` characters (bounded work too).

    Safe on huge or self-referencing values: it looks at a few items per level and a few levels.
    """
    text = " ".join(_REPR.repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: object, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _loader() -> type:
    import yaml

    return yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


def _check_events(text: str, *, max_nodes: int, max_depth: int) -> None:
    """Walk the parser's (flat) event stream: refuse deep nesting and too many values early.

    Runs before any recursive composition, so a deep document never reaches a recursive parser.
    """
    import yaml

    depth = nodes = 0
    for event in yaml.parse(text, Loader=_loader()):
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > max_nodes:
                raise YamlFileError(f"has more than {max_nodes} values; is it the right file?")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                mark = event.start_mark
                raise YamlFileError(
                    f"nests lists/mappings deeper than {max_depth} levels "
                    f"at line {mark.line + 1}, column {mark.column + 1}"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _expanded_size(root: Any, *, max_nodes: int, max_depth: int) -> int:
    """Nodes a walk that follows every alias visits (stops early past ``max_nodes``).

    Raises:
        YamlFileError: for an alias inside its own value, or aliases nesting deeper than
            ``max_depth``.
    """
    import yaml

    seen: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded depth)
    active: set[int] = set()

    def too_deep(node: Any) -> YamlFileError:
        return YamlFileError(
            f"aliases nest values deeper than {max_depth} levels (line {node.start_mark.line + 1})"
        )

    def walk(node: Any, level: int) -> tuple[int, int]:
        key = id(node)
        if key in seen:
            if level + seen[key][1] > max_depth:
                raise too_deep(node)
            return seen[key]
        if level > max_depth:
            raise too_deep(node)
        if key in active:
            raise YamlFileError(
                f"an alias at line {node.start_mark.line + 1} refers to a value that contains it; "
                "write the value out instead"
            )
        active.add(key)
        total, depth = 1, 0
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            _check_unique_keys(node)
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            size, child_depth = walk(child, level + 1)
            total += size
            depth = max(depth, child_depth + 1)
            if total > max_nodes:
                break
        active.discard(key)
        seen[key] = (total, depth)
        return total, depth

    return walk(root, 0)[0]


def _check_unique_keys(node: Any) -> None:
    """A key written twice in one mapping is an error (``yaml.safe_load`` keeps the last one)."""
    import yaml

    first: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in first:
            raise YamlFileError(
                f"key {excerpt(key.value)} appears twice in one mapping (lines {first[key.value]} and {line}); keep one"
            )
        first[key.value] = line


def load_yaml_text(
    text: str,
    *,
    source: str,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """Parse one YAML document from ``text`` within the given bounds.

    Args:
        text: The document.
        source: What it is (e.g. ``"mapping file a.yaml"``), the start of every error message.
        max_nodes: Most values after alias expansion.
        max_depth: Deepest nesting of lists and mappings.

    Raises:
        YamlFileError: not YAML, more than one document, too deep, or too large once expanded.
    """
    import yaml

    try:
        _check_events(text, max_nodes=max_nodes, max_depth=max_depth)
        loader = _loader()(text)
    except YamlFileError as err:
        raise YamlFileError(f"{source} {err}") from err
    except yaml.YAMLError as err:
        raise _not_yaml(source, err) from err
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as err:
            raise _not_yaml(source, err) from err
        if node is None:
            return None
        try:
            total = _expanded_size(node, max_nodes=max_nodes, max_depth=max_depth)
        except YamlFileError as err:
            raise YamlFileError(f"{source}: {err}") from err
        if total > max_nodes:
            raise YamlFileError(
                f"{source} expands to more than {max_nodes} values through its aliases; "
                "write the values out or use fewer aliases"
            )
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as err:
            raise _not_yaml(source, err) from err
    finally:
        loader.dispose()


def _not_yaml(source: str, err: Exception) -> YamlFileError:
    import yaml

    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        return YamlFileError(
            f"{source} is not valid YAML{where}: {_one_line(err.problem or err.context or 'parse error')}"
        )
    return YamlFileError(f"{source} is not valid YAML: {_one_line(err)}")


def load_yaml_file(
    path: str | pathlib.Path,
    *,
    what: str = "YAML file",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """Read and parse the YAML file at ``path`` within bounds (see the module docstring).

    Args:
        path: The file.
        what: What the file is, for messages (``"mapping file"``).
        max_bytes: Largest accepted file size.
        max_nodes: Most values after alias expansion.
        max_depth: Deepest nesting of lists and mappings.

    Returns:
        The document (None for an empty file).

    Raises:
        YamlFileError: unreadable, too large, not UTF-8 text, not YAML, too deep or too large
            once expanded. The message is one line.
    """
    path = pathlib.Path(path)
    source = f"{what} {path}"
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as err:
        raise YamlFileError(f"Cannot read {source}: {_one_line(err.strerror or err)}") from err
    if len(raw) > max_bytes:
        raise YamlFileError(f"{source} is larger than {max_bytes} bytes; is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise YamlFileError(
            f"{source} is not UTF-8 text (byte {err.start} is {raw[err.start:err.start + 1]!r}); is it a binary file?"
        ) from err
    if "\x00" in text:
        raise YamlFileError(f"{source} contains NUL bytes; is it a binary file?")
    return load_yaml_text(text, source=source, max_nodes=max_nodes, max_depth=max_depth)
