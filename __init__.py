"""This directory is a checkout of deepinit's source; the package is the ``deepinit`` directory in it.

Python imports a checkout named ``deepinit`` from its parent directory as this file (and, without
it, as an empty namespace package whose functions are all missing). It hands the import on: to a
deepinit installed elsewhere on ``sys.path``, else to the package in this checkout (which needs
its compiled extension, ``pip install -e .``), and says so if neither is there.
"""

import importlib
import os
import sys


def _hand_on(name):
    checkout = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(checkout)
    del sys.modules[name]
    saved = sys.path[:]
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != parent]
        try:
            return importlib.import_module(name)
        except ImportError:
            sys.path.insert(0, checkout)
            try:
                return importlib.import_module(name)
            except ImportError as error:
                raise ImportError(f"'import {name}' found {checkout}, a checkout of deepinit's source, and no usable "
                                  f"package: install it (pip install --no-build-isolation {checkout}) or run from "
                                  f"another directory ({error})") from None
    finally:
        sys.path[:] = saved


if __name__ == "deepinit":  # the checkout imported from its parent directory
    sys.modules[__name__] = _hand_on(__name__)
