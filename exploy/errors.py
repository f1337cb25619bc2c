"""The package's root error: every concern's error type derives from :class:`ExployError`.

Catch ``ExployError`` once at a boundary (a CLI maps it to an exit code, the node logs it and
fails the transition); catch the concern's own type (``PolicyFormatError``, ``MappingError``,
``BagError``, ...) where only that concern can go wrong.
"""

from __future__ import annotations


class ExployError(ValueError):
    """Something exploy was asked to do cannot be done; the message says what and what to do.

    Derives from ``ValueError`` so code written against the concern errors' former base keeps
    working.
    """
