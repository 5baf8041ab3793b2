"""``python -m deepinit table``: write, resume, finish or verify a table file from the shell."""

import inspect
import os
import sys
import time

from .._argparse import Parser, parse_shape
from .format import (
    DTYPES,
    INIT_ARGUMENTS,
    INITS,
    TableError,
    TableRefused,
    TableUnreadable,
    make_request,
    stored_request,
    verify_table_file,
)
from .journal import finish_table_file, write_request


def _parser():
    parser = Parser(
        prog="python -m deepinit table",
        description="Initialise a table larger than memory into a .npy or .safetensors file: atomic, resumable, "
                    "verifiable, and writable by several processes at once (docs/tables.md).")
    parser.add_argument("path", help="the table file, .npy or .safetensors")
    parser.add_argument("--shape", help="sizes joined by x, e.g. 1000000x128")
    parser.add_argument("--init", default="normal_", choices=list(INITS), help="the initialiser")
    parser.add_argument("--seed", type=int, help="the stream's key (required to write)")
    parser.add_argument("--offset", type=int, default=0, help="the stream position of element 0")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES), help="bfloat16 needs .safetensors")
    parser.add_argument("--name", default="weight", help="tensor name in a .safetensors file")
    parser.add_argument("--chunk-mb", type=float, default=256, help="rows generated and written at a time (MB)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file, start a partial one over")
    parser.add_argument("--resume", action="store_true", help="continue a partial table of the same request")
    parser.add_argument("--rows", metavar="START:STOP", help="write only these rows (one of several writers)")
    parser.add_argument("--finish", action="store_true", help="make the table once every row range is written")
    parser.add_argument("--verify", action="store_true", help="recompute PATH from its stored request and compare")
    parser.add_argument("--sample", type=int, metavar="N", help="with --verify: only N rows chosen at random")
    # The initialisers' own arguments, from the catalog: a flag for each, of its annotated type.
    for argument, (kind, takers) in init_argument_flags().items():
        parser.add_argument(f"--{argument}", type=kind, help=f"{', '.join(takers)}: the argument of that name (its "
                                                             "default if absent)")
    return parser


def init_argument_flags():
    """{argument: (its type, the initialisers that take it)} of every initialiser of INITS."""
    flags = {}
    for init, arguments in INIT_ARGUMENTS.items():
        signature = inspect.signature(INITS[init])
        for argument in arguments:
            annotation = signature.parameters[argument].annotation
            kind = annotation if annotation in (float, int, str) else float
            flags.setdefault(argument, (kind, []))[1].append(init)
    return flags


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.sample is not None and not args.verify:
        parser.error("--sample applies to --verify only")
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample must be at least 1 row, but got {args.sample}")
    try:
        if args.verify:
            result = verify_table_file(args.path, sample=args.sample)
            print(result.message)
            return 0 if result.ok else 1
        if args.finish:
            _summary("finished", finish_table_file(args.path, overwrite=args.overwrite))
            return 0
        if args.shape is None or args.seed is None:
            parser.error("the following arguments are required to write a table: --shape, --seed")
        try:
            shape = parse_shape(args.shape)
        except ValueError as error:
            parser.error(f"--shape: {error}")
        if not 0 < args.chunk_mb < float("inf"):
            parser.error(f"--chunk-mb must be a positive number of megabytes, but got {args.chunk_mb}")
        rows = None
        if args.rows is not None:
            try:
                rows = tuple(int(n) for n in args.rows.split(":"))
                assert len(rows) == 2
            except (ValueError, AssertionError):
                parser.error(f"--rows: invalid range {args.rows!r}: write START:STOP, like 0:1000000")
        init_kwargs = {k: getattr(args, k) for k in init_argument_flags() if getattr(args, k) is not None}
        try:
            request = make_request(args.path, shape, args.init, args.seed, args.offset, args.dtype, args.name,
                                   init_kwargs)
        except ValueError as error:
            parser.error(str(error))
        began = time.perf_counter()
        resumed = write_request(request, chunk_bytes=max(1, int(args.chunk_mb * (1 << 20))), progress=not args.quiet,
                                overwrite=args.overwrite, resume=args.resume, rows=rows)
        if not args.quiet:
            start, stop = rows or (0, shape[0])
            written = (stop - start - resumed) * request.row_bytes
            if rows is None:
                _summary("wrote", args.path, time.perf_counter() - began, written, resumed)
            else:
                print(f"wrote rows {start}:{stop} of {args.path}" + _this_run(time.perf_counter() - began, written,
                                                                              start + resumed if resumed else None)
                      + f"; once every range is written: python -m deepinit table {args.path} --finish")
        return 0
    except (TableRefused, TableUnreadable) as error:
        print(f"python -m deepinit table: error: {error.cli_message()}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"python -m deepinit table: error: {error}", file=sys.stderr)
        return 2
    except TableError as error:
        print(f"python -m deepinit table: error: {error.cli_message()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\npython -m deepinit table: interrupted; run the same command with --resume to continue",
              file=sys.stderr)
        return 130


def _summary(done, path, seconds=None, written=None, resumed_at=None):
    """One line: the table's rows and bytes, what this run wrote and at what rate, and the
    command that verifies it."""
    request = stored_request(path)
    size = os.path.getsize(path)
    print(f"{done} {path}: {request.shape[0]} rows of {'x'.join(map(str, request.shape[1:])) or 'scalars'} "
          f"{request.dtype}, {size} bytes" + (_this_run(seconds, written, resumed_at) if seconds else "")
          + f"; verify: python -m deepinit table --verify {path} [--sample N]")


def _this_run(seconds, written, resumed_at):
    """What this run wrote: its bytes of rows, and the rate; after a resume, from which row."""
    rate = f"in {seconds:.1f} s ({written / seconds / 1e6:.0f} MB/s)"
    if resumed_at:
        return f"; this run resumed at row {resumed_at} and wrote {written} bytes of rows {rate}"
    return f" {rate}"
