"""Every public initialiser of deepinit, once: the list that the package's ``__all__``,
``patch_torch``'s twins, the table writer's choices and the tests' tables derive from.

Each entry says what a function is: on DeePMD-kit's page (the seed API), a twin of a
``torch.nn.init`` function of the same name; whether it is random (it takes ``generator=``,
``seed=`` and ``offset=``) and takes a window (``global_shape=``, ``start=``: it can fill any block
of a logical tensor, so the table writer offers it) the function itself says.
"""

import inspect
from dataclasses import dataclass
from typing import Callable

from . import extra, init


@dataclass(frozen=True)
class Function:
    name: str
    function: Callable
    seed_page: bool = False  # in deepmd.pt.model.network.init
    torch_twin: bool = False  # torch.nn.init has it, with the same signature

    @property
    def random(self) -> bool:
        """Draws from a stream: generator=, seed=, offset= (deepinit._stream.random_function)."""
        return hasattr(self.function, "stream_keywords")

    @property
    def window(self) -> bool:
        """Fills any block of a logical tensor: global_shape=, start=."""
        return "global_shape" in getattr(self.function, "stream_keywords", ())

    @property
    def arguments(self) -> tuple:
        """The function's own arguments after the tensor (std, a, mode, ...): not generator= and
        the stream keywords."""
        skip = {"generator", *getattr(self.function, "stream_keywords", ())}
        return tuple(p for p in list(inspect.signature(self.function).parameters)[1:] if p not in skip)


# The seed page's order, then uniform_, then the rest of torch.nn.init, then what JAX, Keras and
# timm users look for.
FUNCTIONS = [
    Function("_no_grad_trunc_normal_", init._no_grad_trunc_normal_, seed_page=True),
    Function("calculate_gain", init.calculate_gain, seed_page=True, torch_twin=True),
    Function("zeros_", init.zeros_, seed_page=True, torch_twin=True),
    Function("ones_", init.ones_, seed_page=True, torch_twin=True),
    Function("constant_", init.constant_, seed_page=True, torch_twin=True),
    Function("normal_", init.normal_, seed_page=True, torch_twin=True),
    Function("trunc_normal_", init.trunc_normal_, seed_page=True, torch_twin=True),
    Function("kaiming_uniform_", init.kaiming_uniform_, seed_page=True, torch_twin=True),
    Function("kaiming_normal_", init.kaiming_normal_, seed_page=True, torch_twin=True),
    Function("xavier_uniform_", init.xavier_uniform_, seed_page=True, torch_twin=True),
    Function("xavier_normal_", init.xavier_normal_, seed_page=True, torch_twin=True),
    Function("uniform_", init.uniform_, torch_twin=True),
    Function("eye_", extra.eye_, torch_twin=True),
    Function("dirac_", extra.dirac_, torch_twin=True),
    Function("orthogonal_", extra.orthogonal_, torch_twin=True),
    Function("sparse_", extra.sparse_, torch_twin=True),
    Function("variance_scaling_", extra.variance_scaling_),
    Function("lecun_normal_", extra.lecun_normal_),
    Function("lecun_uniform_", extra.lecun_uniform_),
    Function("trunc_normal_tf_", extra.trunc_normal_tf_),
]

BY_NAME = {f.name: f for f in FUNCTIONS}


def names(**kinds) -> list:
    """Names of the functions with every given kind, in the list's order: names(random=True)."""
    return [f.name for f in FUNCTIONS if all(getattr(f, kind) == value for kind, value in kinds.items())]
