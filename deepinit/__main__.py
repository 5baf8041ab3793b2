"""``python -m deepinit table ...`` (streamed table init) and ``python -m deepinit bench ...``."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    commands = {"table": "deepinit.tables", "bench": "deepinit.bench"}
    if not argv or argv[0] not in commands:
        print("usage: python -m deepinit {table,bench} [options]  (--help after a command for its options)")
        return 2
    import importlib

    return importlib.import_module(commands[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
