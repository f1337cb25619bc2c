"""Errors raised while reading an exploy policy file."""


class PolicyFormatError(ValueError):
    """A file is not a readable exploy policy (corrupt, foreign, or missing metadata)."""
