"""Child processes exploy starts (a policy node for the demo or ``exploy sim2sim``)."""

from __future__ import annotations

import signal
import subprocess


def stop_process(proc: subprocess.Popen, *, timeout: float = 10.0) -> None:
    """Stop ``proc`` as Ctrl-C would (SIGINT: a ROS node shuts down cleanly), killing it when it
    has not exited within ``timeout`` seconds. Does nothing when it already exited."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
