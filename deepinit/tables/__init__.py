"""Tables larger than memory, initialised into a NumPy ``.npy`` or a ``.safetensors`` file.

    deepinit.init_table_file("emb.npy", (1_000_000, 128), "normal_", std=0.02, seed=7)
    python -m deepinit table emb.npy --shape 1000000x128 --init normal_ --std 0.02 --seed 7

The table is generated in row chunks, each the window of the whole table that it covers, so the
file holds exactly the values an in-memory init with the same seed gives, and a chunk is written
while the next is generated. What the file writer promises (docs/tables.md):

* Atomic: the rows go to ``PATH.partial`` beside PATH, which is renamed to PATH only once every
  row is on disk (fsync); PATH never holds a partial table, and an existing PATH is refused
  unless ``overwrite=True``.
* Resumable: after each chunk reaches the disk, a journal beside the partial file records the
  rows done and the request; ``resume=True`` checks that the journal describes the same request
  and continues from there.
* Checked first: every argument, and the free space where the OS reports it, before any file is
  created.
* Verifiable: the request is stored with the table (safetensors metadata, or ``PATH.deepinit.json``
  beside a .npy file), so ``verify_table_file`` recomputes all of it, or chunks chosen at random.
* Many writers: ``rows=(start, stop)`` writes one row range into the shared partial file; once
  every range is written, ``finish_table_file`` (``--finish``) makes the table. The result equals
  the single-writer file byte for byte.
"""

from .cli import main
from .format import (  # noqa: F401  (the package's names)
    DTYPES,
    FORMATS,
    INITS,
    Request,
    TableError,
    TableRefused,
    TableUnreadable,
    Verification,
    make_request,
    read_safetensors,
    sidecar_path,
    stored_request,
    verify_table_file,
)
from .journal import finish_table_file, init_table_file, journal_path, partial_path  # noqa: F401

__all__ = ["init_table_file", "finish_table_file", "verify_table_file", "read_safetensors", "stored_request",
           "TableError", "TableRefused", "TableUnreadable", "main"]
