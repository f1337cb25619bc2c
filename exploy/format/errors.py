"""Errors raised while reading an exploy policy file, and bounded quoting of file content."""

from __future__ import annotations

from typing import Any

from exploy.errors import ExployError

EXCERPT_CHARS = 120
"""Longest quote of file content an error message carries."""


class PolicyFormatError(ExployError):
    """A file is not a readable exploy policy (corrupt, foreign, or missing metadata)."""


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``repr``-like text of ``value`` cut to ``limit`` characters, for error messages.

    Never raises: a value whose repr fails or recurses too deep is described by its type.
    """
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # RecursionError, or a hostile __repr__: must not hide the real error
        text = f"<{type(value).__name__}>"
    if len(text) > limit:
        return f"{text[: limit - 3]}... ({len(text)} chars)"
    return text
