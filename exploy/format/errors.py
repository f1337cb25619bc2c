"""Errors raised while reading an exploy policy file."""

from exploy.errors import ExployError


class PolicyFormatError(ExployError):
    """A file is not a readable exploy policy (corrupt, foreign, or missing metadata)."""
