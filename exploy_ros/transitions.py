"""Lifecycle transition callbacks that log their own failures (rclpy drops them silently).

rclpy catches an exception raised in a transition callback and returns ERROR without a word
(the node then exits 1 with nothing in its log). :func:`guarded` wraps a callback so that
every failure is logged by the node in one line and turned into the right return code.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn

from exploy.errors import ExployError


class _Releasing(Protocol):
    def get_logger(self) -> Any: ...

    def _release_quietly(self) -> None: ...


NodeT = TypeVar("NodeT", bound=_Releasing)
Transition = Callable[[NodeT, LifecycleState], TransitionCallbackReturn]


def guarded(label: str, *, release: bool = False) -> Callable[[Transition], Transition]:
    """Make a transition callback log every failure itself.

    An :class:`~exploy.errors.ExployError` (bad file, mapping, parameter: the user's to fix)
    is one error line ``"<label> failed: <reason>"`` and FAILURE. Anything else is one line
    with its type and message, the traceback at DEBUG, and ERROR (rclpy then runs the node's
    ``on_error``). With ``release``, the node's ``_release_quietly()`` drops whatever the
    callback had created before the code is returned.

    Args:
        label: What the transition is called in the log (``"Configure"``).
        release: Release everything on failure (for transitions that create or destroy entities).
    """

    def wrap(callback: Transition) -> Transition:
        @functools.wraps(callback)
        def run(node: NodeT, state: LifecycleState) -> TransitionCallbackReturn:
            try:
                return callback(node, state)
            except ExployError as err:
                node.get_logger().error(f"{label} failed: {err}")
                code = TransitionCallbackReturn.FAILURE
            except Exception as err:
                node.get_logger().error(f"{label} failed: {type(err).__name__}: {err}")
                node.get_logger().debug(traceback.format_exc())
                code = TransitionCallbackReturn.ERROR
            if release:
                node._release_quietly()
            return code

        return run

    return wrap


def destroy_all(destroy: list[tuple[Callable[[Any], Any], Any]]) -> None:
    """Call every ``method(entity)`` of ``destroy``, even after one fails, then raise the first failure."""
    failures = []
    for method, entity in destroy:
        try:
            method(entity)
        except Exception as err:  # keep going: release the rest
            failures.append(err)
    if failures:
        raise failures[0]
