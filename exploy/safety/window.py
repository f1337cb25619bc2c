"""Counters judged over a recent window: a diagnostics level that follows the present.

Totals keep growing; :class:`RecentCounts` tells how much each grew over the last ``window_s``,
so one rejected message raises a WARN that clears once the window has passed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping


class RecentCounts:
    """Increase of named totals over the last ``window_ns``.

    Args:
        window_ns: Length of the window.
        max_samples: Bound on the samples kept (older ones are dropped first).
    """

    def __init__(self, window_ns: int, *, max_samples: int = 1024) -> None:
        if window_ns <= 0:
            raise ValueError(f"window_ns must be > 0, got {window_ns}")
        self.window_ns = window_ns
        self._samples: deque[tuple[int, dict[str, int]]] = deque(maxlen=max_samples)

    def update(self, now_ns: int, totals: Mapping[str, int]) -> dict[str, int]:
        """Record ``totals`` at ``now_ns``; return each total's increase over the window.

        The increase is measured from the newest sample at least ``window_ns`` old (or the
        oldest kept), so it covers the whole window. A total seen for the first time counts as
        grown from zero only when it is the first sample.
        """
        totals = dict(totals)
        samples = self._samples
        while len(samples) >= 2 and now_ns - samples[1][0] >= self.window_ns:
            samples.popleft()
        base = samples[0][1] if samples else {}
        if samples and now_ns - samples[0][0] < 0:  # clock went back: start over
            samples.clear()
            base = {}
        samples.append((now_ns, totals))
        return {name: max(0, value - base.get(name, 0)) for name, value in totals.items()}
