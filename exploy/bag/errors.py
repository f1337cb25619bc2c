"""Errors raised while recording, reading or replaying exploy bags."""

from __future__ import annotations

from exploy.errors import ExployError


class BagError(ExployError):
    """A bag cannot be written, read or replayed as asked.

    Raised for a corrupt or truncated bag, missing topics, wrong message types, a bag recorded
    for another policy file, or an environment that does not match its policy. The message says
    what was wrong and what to do; CLIs turn it into exit code 2.
    """


class LiveReplayError(BagError):
    """The live policy node did not answer in time or could not be reached."""
