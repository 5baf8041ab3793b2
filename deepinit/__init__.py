"""deepinit: fused, counter-based, exactly reproducible tensor initialisation for PyTorch.

``import deepinit`` registers the ops ``torch.ops.deepinit.{uniform_,normal_,trunc_normal_}`` and
exposes the initialisers of DeePMD-kit's ``deepmd.pt.model.network.init`` (see deepinit.init).
"""

import sys

import torch  # noqa: F401  (loads libtorch before the extension)

try:
    from . import _C  # noqa: F401  (registers torch.ops.deepinit)
except ImportError as _error:
    from ._source_tree import installed_package

    # This is a source tree without its compiled extension, which Python found ahead of the
    # installed package (the current directory, usually): the installed package takes the import
    # over, or the error says in one line what to do. The lines below then bind that package's
    # modules (relative imports resolve through sys.modules), which is harmless.
    sys.modules[__name__] = installed_package(__name__, __path__[0], _error)
from . import _ops  # noqa: F401
from . import distributed
from .extra import (  # torch.nn.init's deprecated aliases, with its FutureWarning
    constant,
    dirac,
    eye,
    kaiming_normal,
    kaiming_uniform,
    normal,
    orthogonal,
    sparse,
    uniform,
    xavier_normal,
    xavier_uniform,
)
from .functions import FUNCTIONS
from ._stream import parameter_key
from .modules import init_module_
from .patching import patch, patch_torch
from .tables import init_table_file

globals().update({f.name: f.function for f in FUNCTIONS})

__version__ = "0.1.0"


def _check_cuda_build():
    """Refuse to run a CUDA build of deepinit under a torch of another CUDA major version."""
    compiled = torch.ops.deepinit._compiled_cuda_version()
    if compiled > 0 and torch.version.cuda is not None:
        major = compiled // 1000
        if int(torch.version.cuda.split(".")[0]) != major:
            raise RuntimeError(
                f"deepinit was compiled with CUDA {major}.{compiled % 1000 // 10}, but torch uses CUDA "
                f"{torch.version.cuda}. Reinstall deepinit against this torch: pip install --no-build-isolation ."
            )


_check_cuda_build()

__all__ = [f.name for f in FUNCTIONS] + [
    "patch",
    "patch_torch",
    "init_module_",
    "parameter_key",
    "init_table_file",
    "distributed",
]
