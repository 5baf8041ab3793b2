"""Every public initialiser of deepinit, once: the list that the package's ``__all__``,
``patch_torch``'s twins, the table writer's choices and the tests' tables derive from.

Each entry says what a function is: on DeePMD-kit's page (the seed API), a twin of a
``torch.nn.init`` function of the same name, random (it takes ``generator=``, ``seed=`` and
``offset=``), and whether it takes a window (``global_shape=``, ``start=``: it can fill any block of
a logical tensor, so the table writer offers it).
"""

from dataclasses import dataclass
from typing import Callable

from . import extra, init


@dataclass(frozen=True)
class Function:
    name: str
    function: Callable
    seed_page: bool = False  # in deepmd.pt.model.network.init
    torch_twin: bool = False  # torch.nn.init has it, with the same signature
    random: bool = False  # draws from a stream: generator=, seed=, offset=
    window: bool = False  # global_shape=, start=


# The seed page's order, then uniform_, then the rest of torch.nn.init, then what JAX, Keras and
# timm users look for.
FUNCTIONS = [
    Function("_no_grad_trunc_normal_", init._no_grad_trunc_normal_, seed_page=True, random=True, window=True),
    Function("calculate_gain", init.calculate_gain, seed_page=True, torch_twin=True),
    Function("zeros_", init.zeros_, seed_page=True, torch_twin=True),
    Function("ones_", init.ones_, seed_page=True, torch_twin=True),
    Function("constant_", init.constant_, seed_page=True, torch_twin=True),
    Function("normal_", init.normal_, seed_page=True, torch_twin=True, random=True, window=True),
    Function("trunc_normal_", init.trunc_normal_, seed_page=True, torch_twin=True, random=True, window=True),
    Function("kaiming_uniform_", init.kaiming_uniform_, seed_page=True, torch_twin=True, random=True, window=True),
    Function("kaiming_normal_", init.kaiming_normal_, seed_page=True, torch_twin=True, random=True, window=True),
    Function("xavier_uniform_", init.xavier_uniform_, seed_page=True, torch_twin=True, random=True, window=True),
    Function("xavier_normal_", init.xavier_normal_, seed_page=True, torch_twin=True, random=True, window=True),
    Function("uniform_", init.uniform_, torch_twin=True, random=True, window=True),
    Function("eye_", extra.eye_, torch_twin=True),
    Function("dirac_", extra.dirac_, torch_twin=True),
    Function("orthogonal_", extra.orthogonal_, torch_twin=True, random=True),
    Function("sparse_", extra.sparse_, torch_twin=True, random=True),
    Function("variance_scaling_", extra.variance_scaling_, random=True, window=True),
    Function("lecun_normal_", extra.lecun_normal_, random=True, window=True),
    Function("lecun_uniform_", extra.lecun_uniform_, random=True, window=True),
    Function("trunc_normal_tf_", extra.trunc_normal_tf_, random=True, window=True),
]

BY_NAME = {f.name: f for f in FUNCTIONS}


def names(**kinds) -> list:
    """Names of the functions with every given kind, in the list's order: names(random=True)."""
    return [f.name for f in FUNCTIONS if all(getattr(f, kind) == value for kind, value in kinds.items())]
