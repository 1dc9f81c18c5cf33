"""Sub-commands of the ``toolcall`` CLI: one module each, with ``add_parser(subparsers)`` and ``run(args) -> int``."""
