"""The ``toolcall`` command line: build, push, render, tokenize, inspect.

Exit codes, for every command: 0 success; 1 the command ran but produced nothing usable (or some items failed);
2 bad options or input (argparse errors too). Output piped into a command that stops reading (``| head``) ends the
program quietly, as for any Unix tool (exit 141, 128 + SIGPIPE).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

_COMMANDS = ("build", "push", "render", "tokenize", "inspect", "eval")
BROKEN_PIPE_EXIT = 141


def make_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="toolcall", description="Tool-calling fine-tuning data, exactly right.",
                                     epilog="Exit codes: 0 success, 1 nothing usable produced, 2 bad options or input.")
    parser.add_argument("--version", action="version", version=f"toolcall (toolcall-templates) {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"toolcall_templates.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away: send the rest of our output nowhere, so the interpreter's final flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    return code


if __name__ == "__main__":
    sys.exit(main())
