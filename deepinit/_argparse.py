"""The command lines' argument parser: an error is one line (and exit status 2), --help shows
each option's default, and an option's value may begin with a minus sign (``--shape -5x3`` is
read as a shape, which is then refused as one, not as a missing value)."""

import argparse
import sys

SUPPRESS = argparse.SUPPRESS
MAX_SIZE = (1 << 63) - 1  # torch's sizes and element counts are int64


class _ShowDefaults(argparse.HelpFormatter):
    def _get_help_string(self, action):
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if action.option_strings and not hidden and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _ShowDefaults)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")

    def parse_known_args(self, args=None, namespace=None):
        args = self._glue_values(list(sys.argv[1:] if args is None else args))
        return super().parse_known_args(args, namespace)

    def _glue_values(self, args):
        """`--opt -x` as `--opt=-x` for an option that takes one value, when -x is no option."""
        takes_value = {s for a in self._actions if a.nargs is None for s in a.option_strings}
        glued, k = [], 0
        while k < len(args):
            if (args[k] in takes_value and k + 1 < len(args) and args[k + 1].startswith("-")
                    and args[k + 1] not in self._option_string_actions):
                glued.append(f"{args[k]}={args[k + 1]}")
                k += 2
            else:
                glued.append(args[k])
                k += 1
        return glued


def parse_shape(text, min_dims=1):
    """(rows, cols, ...) of "1000x128"; ValueError naming the text otherwise."""
    try:
        shape = tuple(int(n) for n in text.lower().split("x"))
    except ValueError:
        shape = ()
    dims = "two" if min_dims > 1 else "one"
    if len(shape) < min_dims or any(n < 0 for n in shape):
        raise ValueError(f"invalid shape {text!r}: write {dims} or more sizes, none negative, joined by x, like 1000x128")
    elements = 1
    for n in shape:
        elements *= n
    if elements > MAX_SIZE or max(shape) > MAX_SIZE:
        raise ValueError(f"invalid shape {text!r}: a tensor holds at most 2**63 - 1 elements")
    return shape
