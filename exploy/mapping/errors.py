"""Errors raised while mapping policy components to ROS topics and converting messages."""

from exploy.errors import ExployError


class MappingError(ExployError):
    """A policy cannot be mapped to topics as asked (bad mapping file, shape or metadata)."""


class AdapterError(ExployError):
    """A message cannot be converted to or from policy tensors.

    Raised on a hot path: the node is expected to reject the message, count the rejection and
    keep the last good value. The message says which component and what was wrong.
    """
