"""Errors raised while running a policy file."""


class PolicyRuntimeError(ValueError):
    """Bad inputs for a policy run (unknown or missing names, wrong shape or dtype, NaN)."""
