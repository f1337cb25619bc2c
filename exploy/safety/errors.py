"""Errors of the safety layer (limits, ranges, joint layout, safety parameters)."""

from exploy.errors import ExployError


class SafetyError(ExployError):
    """A safety setting cannot be honoured (bad limits, an unmeasured joint, a bad gain or range)."""
