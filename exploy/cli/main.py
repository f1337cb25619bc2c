"""Entry point of the ``exploy`` command.

Each subcommand lives in its own module ``exploy.cli.<name>`` exposing
``add_parser(subparsers) -> None`` (which sets ``func`` on its parser) and is imported
lazily, so ``exploy inspect`` on a robot never imports torch.
Exit codes: 0 success, 1 a check failed (divergence, parity), 2 bad input.

Bad input is mapped to exit 2 in one place, :func:`main`: a subcommand raises an
:class:`~exploy.errors.ExployError` (or an ``OSError`` on a user's path) and ``main`` prints it as
one bounded line ``exploy <command>: <reason>`` on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from exploy.errors import ExployError

SUBCOMMANDS = ("export", "inspect", "record", "replay", "sim2sim")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

MAX_ERROR_CHARS = 1000
"""Longest error line printed on stderr."""


def error_line(prog: str, err: BaseException) -> str:
    """``"<prog>: <err>"`` on one line of at most :data:`MAX_ERROR_CHARS` characters."""
    text = " ".join(f"{prog}: {err}".split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exploy",
        description="Export an RL environment and policy to one ONNX file, inspect it, "
        "record simulation data to rosbag2 and replay it against the deployed policy.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"exploy.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"exploy.cli.{name}":
                continue  # subcommand not part of this build
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``exploy`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except (ExployError, OSError) as err:
        print(error_line(f"exploy {args.command}", err), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
