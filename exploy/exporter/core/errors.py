"""Errors raised by the offline exporter."""

from exploy.errors import ExployError


class ExportError(ExployError):
    """The environment, actor or export target cannot be exported as asked; the message says why."""


class SimRateWarning(UserWarning):
    """The exported ProcessActions path reads state that is neither an Input nor a Memory."""


class EvaluationError(ExployError):
    """``evaluate`` was called wrongly or cannot run the environment; the message says what to do."""
