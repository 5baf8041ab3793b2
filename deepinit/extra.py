"""The rest of torch.nn.init (eye_, dirac_, orthogonal_, sparse_ and the deprecated aliases) and
what JAX, Keras and timm users look for (variance_scaling_, lecun_normal_, lecun_uniform_,
trunc_normal_tf_). Signatures, defaults and errors follow torch (and JAX / timm for theirs); the
random parts draw from deepinit streams, so seed= and offset= work here too.
"""

import math
import warnings
from typing import Optional

import torch
from torch import Tensor

from ._shards import fill_whole_then_shard, is_dtensor
from ._stream import (
    NORMAL,
    TRUNC_NORMAL,
    UNIFORM,
    Stream,
    fill,
    logical_tensor,
    random_function,
    resolve,
    split_stream,
)
from .init import (
    _calculate_fan_in_and_fan_out,
    constant_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
)


def eye_(tensor: Tensor) -> Tensor:
    r"""Fill the 2-dimensional input `Tensor` with the identity matrix. Identical to torch's."""
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with torch.no_grad():
        torch.eye(*tensor.shape, out=tensor, requires_grad=tensor.requires_grad)
    return tensor


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    r"""Fill the {3, 4, 5}-dimensional input `Tensor` with the Dirac delta function. Identical to
    torch's."""
    dimensions = tensor.ndimension()
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    if tensor.is_meta:
        return tensor
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    with torch.no_grad():
        tensor.zero_()
        centre = tuple(s // 2 for s in sizes[2:])
        for g in range(groups):
            for d in range(min_dim):
                tensor[(g * out_chans_per_grp + d, d) + centre] = 1
    return tensor


@random_function(window=False)
def orthogonal_(tensor: Tensor, gain: float = 1, generator: Optional[torch.Generator] = None, **stream) -> Tensor:
    r"""Fill the input `Tensor` with a (semi) orthogonal matrix (Saxe et al., 2013).

    As torch's: the QR factorisation of a standard normal matrix, its signs fixed, times gain.
    The normal matrix comes from a deepinit stream (``seed=``/``offset=``, or the generator), so
    the result is reproducible from the seed on one machine; the QR itself is LAPACK's (or
    cuSOLVER's), whose last bits may differ between libraries and devices. A DTensor is
    computed whole on every rank, which keeps its shard.

    Args:
        tensor: an n-dimensional `torch.Tensor`, where n >= 2
        gain: optional scaling factor
    """
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    generator, stream = resolve(tensor, generator, stream, window=False)  # before its temporary is made
    if type(tensor) is not torch.Tensor and is_dtensor(tensor):
        return fill_whole_then_shard(tensor, lambda whole: _orthogonal(whole, gain, generator, stream))
    return _orthogonal(tensor, gain, generator, stream)


def _orthogonal(tensor, gain, generator, stream):
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flattened = fill(NORMAL, tensor.new_empty((rows, cols)), (0.0, 1.0), generator, stream)
    if rows < cols:
        flattened.t_()
    q, r = torch.linalg.qr(flattened)
    q *= r.diagonal().sign()  # Make Q uniform according to https://arxiv.org/pdf/math-ph/0609050.pdf
    if rows < cols:
        q.t_()
    # As torch's no_grad block, for less (this function is mostly its overheads on small tensors).
    grad_enabled = torch.is_grad_enabled()
    torch._C._set_grad_enabled(False)
    try:
        tensor.view_as(q).copy_(q)
        if gain != 1:  # x * 1 is x
            tensor.mul_(gain)
    finally:
        torch._C._set_grad_enabled(grad_enabled)
    return tensor


@random_function(window=False)
def sparse_(
    tensor: Tensor, sparsity: float, std: float = 0.01, generator: Optional[torch.Generator] = None, **stream
) -> Tensor:
    r"""Fill the 2D input `Tensor` as a sparse matrix (Martens, 2010): N(0, std^2) values with
    ``ceil(sparsity * rows)`` zeros in each column.

    Differs from torch: the zeros' places come from the same deepinit stream as the values (torch
    draws them from the global generator even when given one), so ``seed=`` or ``generator=``
    fixes the whole result. The values take stream positions offset .. offset + numel; the zeros'
    places come from float64 uniforms at the positions of the Philox counters that follow
    (docs/stream.md). A generator gives (seed, offset) by the rule every fill uses, for both.
    A DTensor is computed whole on every rank, which keeps its shard.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        sparsity: The fraction of elements in each column to be set to zero
        std: the standard deviation of the normal distribution used to generate the non-zero values
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    generator, stream = resolve(tensor, generator, stream, window=False)  # before its temporaries are made
    if is_dtensor(tensor):
        return fill_whole_then_shard(tensor, lambda whole: _sparse(whole, sparsity, std, generator, stream))
    return _sparse(tensor, sparsity, std, generator, stream)


def _sparse(tensor, sparsity, std, generator, stream):
    if tensor.is_meta:
        return tensor
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    # One stream: the values, then (from the next Philox counter) the zeros' float64 keys.
    keys = torch.empty(rows, cols, dtype=torch.float64, device=tensor.device)
    seed, values_at, keys_at = split_stream(tensor, tensor.numel(), keys, generator, stream)
    fill(NORMAL, tensor, (0.0, std), None, Stream(seed, values_at))
    if num_zeros > 0:
        fill(UNIFORM, keys, (0.0, 1.0), None, Stream(seed, keys_at))
        zero_rows = keys.argsort(dim=0, stable=True)[:num_zeros]
        with torch.no_grad():
            tensor.scatter_(0, zero_rows, 0.0)
    return tensor


# Keras' and JAX's correction: the std of N(0, 1) truncated to [-2, 2].
_TRUNCATED_STD = 0.87962566103423978


@random_function()
def variance_scaling_(
    tensor: Tensor,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    generator: Optional[torch.Generator] = None,
    **stream,
) -> Tensor:
    r"""JAX's and Keras' variance scaling: values of variance ``scale / n``, n the fan_in, the
    fan_out or their mean (``mode``), from a ``"truncated_normal"`` (truncated at two of its
    stds and rescaled by 0.87962566103423978 so that the std after truncation is the target), a
    ``"normal"`` or a ``"uniform"`` distribution. Fans follow torch's convention (dim 0 is
    fan_out, dim 1 fan_in, the rest the receptive field), not JAX's (last two dims).
    """
    if scale <= 0.0:
        raise ValueError(f"`scale` must be positive float. Got: {scale}")
    modes = {"fan_in", "fan_out", "fan_avg"}
    if mode not in modes:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(logical_tensor(tensor, stream, fan_out=mode != "fan_in"))
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    if n <= 0:
        raise ValueError(f"variance_scaling_ needs a positive {mode}, but the tensor has shape {tuple(tensor.shape)}")
    variance = scale / n
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / _TRUNCATED_STD
        return fill(TRUNC_NORMAL, tensor, (0.0, std, -2.0 * std, 2.0 * std), generator, stream)
    if distribution == "normal":
        return fill(NORMAL, tensor, (0.0, math.sqrt(variance)), generator, stream)
    if distribution == "uniform":
        bound = math.sqrt(3.0 * variance)
        return fill(UNIFORM, tensor, (-bound, bound), generator, stream)
    raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")


@random_function()
def lecun_normal_(tensor: Tensor, generator: Optional[torch.Generator] = None, **stream) -> Tensor:
    r"""LeCun normal: ``variance_scaling_(tensor, 1.0, "fan_in", "truncated_normal")``, as JAX's
    and Keras'."""
    return variance_scaling_(tensor, 1.0, "fan_in", "truncated_normal", generator, **stream)


@random_function()
def lecun_uniform_(tensor: Tensor, generator: Optional[torch.Generator] = None, **stream) -> Tensor:
    r"""LeCun uniform: ``variance_scaling_(tensor, 1.0, "fan_in", "uniform")``, as JAX's and
    Keras'."""
    return variance_scaling_(tensor, 1.0, "fan_in", "uniform", generator, **stream)


@random_function()
def trunc_normal_tf_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Optional[torch.Generator] = None,
    **stream,
) -> Tensor:
    r"""timm's TensorFlow-style truncated normal: bounds a and b are in units of std around the
    mean, so the values lie in [mean + a std, mean + b std]. One exact pass, like trunc_normal_."""
    return fill(TRUNC_NORMAL, tensor, (mean, std, mean + a * std, mean + b * std), generator, stream)


def _make_deprecate(meth):
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(
            f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.", FutureWarning, stacklevel=2
        )
        return meth(*args, **kwargs)

    deprecated_init.__doc__ = f"{old_name}(...): deprecated, as in torch; use {new_name}."
    deprecated_init.__name__ = old_name
    return deprecated_init


# torch.nn.init's deprecated aliases, with the same FutureWarning.
uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
