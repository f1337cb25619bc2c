"""``MODULE:FACTORY [--arg key=value ...]``: how ``exploy export`` and ``exploy record`` get the
environment and actor from the user's code.

- ``MODULE`` is imported like ``python -c "import MODULE"`` run from the current directory: the
  current directory comes first on ``sys.path`` (also for the installed ``exploy`` script).
- Each ``--arg key=value`` becomes the keyword argument ``key`` of ``FACTORY``. The value is read
  as a Python literal when it is one (``3``, ``0.5``, ``True``, ``None``, ``'text'``,
  ``[1, 2]``, ``{'a': 1}``) and is the text itself otherwise (``ckpt=runs/a.pt`` passes the
  string ``"runs/a.pt"``); quote it (``name="'3'"``) to pass a number as a string.
- ``FACTORY(**kwargs)`` must return ``(ExportableEnvironment, torch.nn.Module)``.

Everything that goes wrong raises :class:`FactoryError` (an :class:`~exploy.errors.ExployError`,
so the CLI exits 2 with one line). An exception raised by the user's own code (while importing
the module or calling the factory) is reported as such, with its type and where it was raised,
so it is never mistaken for a complaint of exploy's.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import traceback
from typing import Any

from exploy.errors import ExployError


class FactoryError(ExployError):
    """The ``MODULE:FACTORY`` of a command cannot be imported or called, raised, or returned the
    wrong thing."""


def _origin(err: BaseException) -> str:
    """``" (at file.py:12)"``: the innermost frame of ``err``'s traceback, if any."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {os.path.basename(frame.filename)}:{frame.lineno})"


def _user_error(what: str, err: BaseException) -> FactoryError:
    reason = " ".join(str(err).split()) or "(no message)"
    return FactoryError(f"{what} raised {type(err).__name__}{_origin(err)}: {reason}; this error comes from your code")


def parse_factory_args(pairs: list[str] | None) -> dict[str, Any]:
    """``["seed=3", "ckpt=runs/a.pt"]`` -> ``{"seed": 3, "ckpt": "runs/a.pt"}`` (see the module doc).

    Raises:
        FactoryError: for an item without ``=``, a key that is not a Python identifier, or a
            key given twice.
    """
    kwargs: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise FactoryError(f"--arg expects KEY=VALUE with KEY a Python identifier, got {pair[:80]!r}")
        if key in kwargs:
            raise FactoryError(f"--arg {key} is given more than once")
        try:
            kwargs[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            kwargs[key] = text
    return kwargs


def load_factory(spec: str) -> Any:
    """Resolve ``MODULE:FACTORY`` to a callable, importing from the current directory first.

    Raises:
        FactoryError: for a malformed spec, a module that cannot be found, a module whose
            import raises, or a missing / non-callable attribute.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise FactoryError(f"expected MODULE:FACTORY (e.g. my_robot.export:make), got {spec[:80]!r}")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and (module_name == err.name or module_name.startswith(err.name + ".")):
            raise FactoryError(
                f"cannot import module '{module_name}': no such module in the current directory ({cwd}) "
                "nor among the installed packages; run exploy from the folder that holds it, or install it"
            ) from err
        raise _user_error(f"importing module '{module_name}'", err) from err
    except Exception as err:  # anything the user's module raises on import
        raise _user_error(f"importing module '{module_name}'", err) from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise FactoryError(f"module '{module_name}' has no callable '{attr}'")
    return factory


def make_env_and_actor(spec: str, kwargs: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """Import ``spec``'s factory, call it with ``kwargs`` and check it returned ``(env, actor)``.

    Returns:
        ``(ExportableEnvironment, torch.nn.Module)``.

    Raises:
        FactoryError: see :func:`load_factory`; also when the factory raises (reported as the
            user's error) or returns anything else than the pair.
    """
    try:
        import torch

        from exploy.exporter.core.exportable_environment import ExportableEnvironment
    except ImportError as err:
        raise FactoryError(f"this command needs torch ({err}); install exploy with the 'export' extra") from err
    factory = load_factory(spec)
    kwargs = kwargs or {}
    call = f"{spec}(" + ", ".join(f"{k}={v!r}"[:60] for k, v in kwargs.items()) + ")"
    try:
        made = factory(**kwargs)
    except Exception as err:  # the user's factory: report it as theirs
        raise _user_error(call, err) from err
    if (
        not isinstance(made, tuple)
        or len(made) != 2
        or not isinstance(made[0], ExportableEnvironment)
        or not isinstance(made[1], torch.nn.Module)
    ):
        got = type(made).__name__
        if isinstance(made, tuple):
            got = "(" + ", ".join(type(m).__name__ for m in made[:4]) + ")"
        raise FactoryError(f"{call} must return (ExportableEnvironment, torch.nn.Module), got {got}")
    return made


def add_factory_arguments(parser: Any, *, optional: bool = False) -> None:
    """The ``MODULE:FACTORY`` positional (``optional``: may be left out) and ``--arg KEY=VALUE``."""
    parser.add_argument(
        "factory", metavar="MODULE:FACTORY", **({"nargs": "?", "default": None} if optional else {}),
        help="e.g. exploy.examples.legged_robot:make_mlp_example; MODULE is imported from the current directory first",
    )
    parser.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", dest="factory_args",
        help="keyword argument for FACTORY (repeatable); VALUE is a Python literal (3, 0.5, True, None, "
        "'text', [1, 2]) or else taken as text (ckpt=runs/a.pt)",
    )
