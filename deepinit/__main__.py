"""``python -m deepinit table ...`` (streamed table files) and ``python -m deepinit bench ...``."""

import sys

COMMANDS = {"table": "deepinit.tables.cli", "bench": "deepinit.bench"}
USAGE = "usage: python -m deepinit {table,bench} [options]  (--help after a command for its options)"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"{USAGE}\npython -m deepinit: error: unknown command {argv[0]!r}; choose table or bench", file=sys.stderr)
        return 2
    import importlib

    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
