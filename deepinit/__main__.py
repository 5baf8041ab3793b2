"""``python -m deepinit table ...`` (streamed table files) and ``python -m deepinit bench ...``."""

import sys

COMMANDS = {
    "table": ("deepinit.tables.cli", "write, resume, finish or verify a table file larger than memory (.npy, "
                                     ".safetensors)"),
    "bench": ("deepinit.bench", "time deepinit against torch.nn.init and fill_ (the same as deepinit-bench)"),
}
USAGE = "usage: python -m deepinit {table,bench} [options]"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        lines = [USAGE, "", "commands:"] + [f"  {name:6} {text}" for name, (_, text) in COMMANDS.items()]
        lines += ["", "python -m deepinit COMMAND --help lists a command's options."]
        print("\n".join(lines), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"python -m deepinit: error: unknown command {argv[0]!r}; choose table or bench (--help lists them)",
              file=sys.stderr)
        return 2
    import importlib

    return importlib.import_module(COMMANDS[argv[0]][0]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
