"""Errors of the simulator concern (models, commands, closed-loop runs)."""

from __future__ import annotations

from exploy.errors import ExployError


class SimError(ExployError):
    """A simulator model, command or closed-loop run is unusable; the message says how to fix it."""
