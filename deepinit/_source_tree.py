"""What ``import deepinit`` does when it finds a source tree without its compiled extension:
the usual cause is a clone of the repository in the current directory, which Python searches
before site-packages, while deepinit was installed with ``pip install .``."""

import glob
import importlib
import os
import sys

BUILD_IN_PLACE = "pip install --no-build-isolation -e ."


def installed_package(name, package_dir, error):
    """The deepinit installed elsewhere on sys.path, imported in place of the source tree at
    `package_dir`; ImportError in one line, naming both ways out, when there is none. A compiled
    extension that is present but fails to load is reported as it is (rebuilding fixes it)."""
    tree = os.path.dirname(os.path.abspath(package_dir))
    built = glob.glob(os.path.join(package_dir, "_C*.so")) + glob.glob(os.path.join(package_dir, "_C*.pyd"))
    if built:
        raise ImportError(f"deepinit's compiled extension {built[0]} failed to load ({error}): rebuild it against this "
                          f"torch with `{BUILD_IN_PLACE}` in {tree}") from None
    ours = {k: sys.modules.pop(k) for k in list(sys.modules) if k == name or k.startswith(name + ".")}
    saved_path = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != tree]
    try:
        return importlib.import_module(name)
    except ImportError as other:
        sys.modules.update(ours)
        found = getattr(other, "name", None) != name  # another deepinit exists, and failed
        detail = f"; the installed deepinit failed too ({other})" if found else ""
        raise ImportError(f"'import {name}' found {tree}, deepinit's source tree, which is not built{detail}: build it "
                          f"in place with `{BUILD_IN_PLACE}` there, or run Python from another directory to use "
                          f"a deepinit installed with `pip install --no-build-isolation .`") from None
    finally:
        sys.path[:] = saved_path
