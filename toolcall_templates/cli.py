"""The ``toolcall`` command line: build, push, render, tokenize, inspect."""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMANDS = ("build", "push", "render", "tokenize", "inspect")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolcall", description="Tool-calling fine-tuning data, exactly right.")
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
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
