"""Errors raised while running a policy file."""

from exploy.errors import ExployError


class PolicyRuntimeError(ExployError):
    """Bad inputs for a policy run (unknown or missing names, wrong shape or dtype, NaN)."""
