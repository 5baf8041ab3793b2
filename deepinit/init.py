"""The initialisers: DeePMD-kit's ``deepmd.pt.model.network.init`` (a ``torch.nn.init`` twin with
``generator=`` everywhere), in the seed page's order, plus ``uniform_``.

Each function keeps torch's signature, defaults, return value (the same tensor object), errors and
warnings, except where a docstring says otherwise. Random fills run as one fused pass of the
``torch.ops.deepinit`` kernels, whose values follow stream contract v2 (docs/stream.md):

* ``generator=None`` draws from the default generator of the tensor's device, so
  ``torch.manual_seed`` makes a sequence of calls reproducible; a ``torch.Generator`` is used the
  same way. Consecutive calls never share a stream.
* Beyond torch, every random function takes keyword-only ``seed=`` and ``offset=``: element ``i``
  (row-major over the logical shape) takes stream position ``offset + i`` of key ``seed``, which
  consumes no generator and gives the same values whatever the device, thread count or chunking.
"""

import math
import warnings
from typing import Optional

import torch
from torch import Tensor

from ._stream import NORMAL, TRUNC_NORMAL, UNIFORM, explain_bad_arguments, fill, logical_tensor, random_function

_has_torch_function = torch.overrides.has_torch_function_variadic
_handle_torch_function = torch.overrides.handle_torch_function


@random_function()
def _no_grad_trunc_normal_(
    tensor: Tensor, mean: float, std: float, a: float, b: float, generator: Optional[torch.Generator] = None, **stream
) -> Tensor:
    """Fill ``tensor`` with the exact truncated normal N(mean, std^2) on [a, b], without autograd.

    Differs from the seed: each value is the exact quantile of one uniform (no rejection, no
    clamping pile-up), in every dtype and however far [a, b] lies in the tail, so there is no
    "mean is more than 2 std from [a, b]" warning. ``std <= 0`` raises ValueError (the seed
    divides by it); ``a >= b``, or no value of the tensor's dtype in [a, b], raises RuntimeError.
    """
    return fill(TRUNC_NORMAL, tensor, (mean, std, a, b), generator, stream)


def _no_grad_fill_(tensor, val):
    with torch.no_grad():
        return tensor.fill_(val)


def _no_grad_zero_(tensor):
    with torch.no_grad():
        return tensor.zero_()


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    r"""Return the recommended gain value for the given nonlinearity function.

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    Linear / Identity :math:`1`
    Conv{1,2,3}D      :math:`1`
    Sigmoid           :math:`1`
    Tanh              :math:`\frac{5}{3}`
    ReLU              :math:`\sqrt{2}`
    Leaky Relu        :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}`
    SELU              :math:`\frac{3}{4}`
    ================= ====================================================

    Identical to ``torch.nn.init.calculate_gain``, errors included.

    Args:
        nonlinearity: the non-linear function (`nn.functional` name)
        param: optional parameter for the non-linear function
    """
    linear_fns = [
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    ]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    elif nonlinearity == "tanh":
        return 5.0 / 3
    elif nonlinearity == "relu":
        return math.sqrt(2.0)
    elif nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            # True/False are instances of int, hence check above
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    elif nonlinearity == "selu":
        return 3.0 / 4  # Value found empirically (https://github.com/pytorch/pytorch/pull/50664)
    else:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def zeros_(tensor: Tensor) -> Tensor:
    r"""Fill the input Tensor with the scalar value `0`. Identical to torch's.

    Args:
        tensor: an n-dimensional `torch.Tensor`
    """
    return _no_grad_zero_(tensor)


def ones_(tensor: Tensor) -> Tensor:
    r"""Fill the input Tensor with the scalar value `1`. Identical to torch's.

    Args:
        tensor: an n-dimensional `torch.Tensor`
    """
    return _no_grad_fill_(tensor, 1.0)


def constant_(tensor: Tensor, val: float) -> Tensor:
    r"""Fill the input Tensor with the value :math:`\text{val}`. Identical to torch's.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        val: the value to fill the tensor with
    """
    if _has_torch_function(tensor):
        return _handle_torch_function(constant_, (tensor,), tensor=tensor, val=val)
    return _no_grad_fill_(tensor, val)


@random_function()
def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Optional[torch.Generator] = None, **stream
) -> Tensor:
    r"""Fill the input Tensor with values drawn from the uniform distribution :math:`\mathcal{U}(a, b)`.

    Each value is ``a + (b - a) * u`` for the stream's uniform ``u`` in (0, 1), computed in
    float32 (float64 for float64 tensors). Differs from torch: ``seed=``/``offset=``; infinite or
    NaN bounds raise RuntimeError.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        a: the lower bound of the uniform distribution
        b: the upper bound of the uniform distribution
    """
    if _has_torch_function(tensor):  # tensor subclasses that override torch functions take the call, as in torch
        return _handle_torch_function(uniform_, (tensor,), tensor=tensor, a=a, b=b, generator=generator, **stream)
    return fill(UNIFORM, tensor, (a, b), generator, stream)


@random_function()
def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Optional[torch.Generator] = None, **stream
) -> Tensor:
    r"""Fill the input Tensor with values drawn from the normal distribution
    :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Each value is ``mean + std * Phi^-1(u)``, one uniform per element through an accurate inverse
    normal CDF (<= 4 ulp in float32). Differs from torch: ``seed=``/``offset=``; a NaN or
    infinite mean raises RuntimeError (torch fills NaN).

    Args:
        tensor: an n-dimensional `torch.Tensor`
        mean: the mean of the normal distribution
        std: the standard deviation of the normal distribution
    """
    if _has_torch_function(tensor):
        return _handle_torch_function(normal_, (tensor,), tensor=tensor, mean=mean, std=std, generator=generator,
                                      **stream)
    return fill(NORMAL, tensor, (mean, std), generator, stream)


@random_function()
def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Optional[torch.Generator] = None,
    **stream,
) -> Tensor:
    r"""Fill the input Tensor with values drawn from a truncated normal distribution: the normal
    distribution :math:`\mathcal{N}(\text{mean}, \text{std}^2)` restricted to :math:`[a, b]`.

    Differs from the seed and torch: every value is the exact quantile of one uniform, however far
    [a, b] lies from the mean and in every dtype (float16/bfloat16 values are the correctly rounded
    quantile, moved inside [a, b] if rounding left it), so no warning is given for a mean far from
    [a, b]; ``std <= 0`` raises ValueError; ``seed=``/``offset=``.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        mean: the mean of the normal distribution
        std: the standard deviation of the normal distribution
        a: the minimum cutoff value
        b: the maximum cutoff value
    """
    return fill(TRUNC_NORMAL, tensor, (mean, std, a, b), generator, stream)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    try:
        dimensions = tensor.dim()
    except AttributeError:  # no tensor (a NumPy array): one line that says so
        explain_bad_arguments(tensor)
        raise
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")

    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    if tensor.dim() > 2:
        for s in tensor.shape[2:]:
            receptive_field_size *= s
    fan_in = num_input_fmaps * receptive_field_size
    fan_out = num_output_fmaps * receptive_field_size

    return fan_in, fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")

    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _kaiming_doc(summary):
    """Sets a Kaiming function's docstring: its own summary, the Args they share."""

    def set_doc(body):
        body.__doc__ = summary + """
    As torch's (zero-element tensors warn and are left alone), plus ``seed=``/``offset=``.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        a: the negative slope of the rectifier used after this layer (only used with ``'leaky_relu'``)
        mode: either ``'fan_in'`` (default) or ``'fan_out'``
        nonlinearity: the non-linear function (`nn.functional` name), recommended to use only with
            ``'relu'`` or ``'leaky_relu'`` (default).
    """
        return body

    return set_doc


def _kaiming_std(tensor, a, mode, nonlinearity, stream):
    """The Kaiming std, or None for a zero-element tensor (torch warns and leaves it alone)."""
    try:
        empty = 0 in tensor.shape
    except AttributeError:  # no tensor (a list): one line that says so
        explain_bad_arguments(tensor)
        raise
    if empty:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(logical_tensor(tensor, stream, fan_out=mode != "fan_in"), mode)
    gain = _finite_gain(calculate_gain(nonlinearity, a), f"a={a}")
    return gain / math.sqrt(fan)


@random_function()
@_kaiming_doc(r"""Fill the input `Tensor` with values using a Kaiming uniform distribution (He et al., 2015):
    :math:`\mathcal{U}(-\text{bound}, \text{bound})`, :math:`\text{bound} = \text{gain} \times
    \sqrt{\frac{3}{\text{fan\_mode}}}`.
""")
def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Optional[torch.Generator] = None,
    **stream,
) -> Tensor:
    if _has_torch_function(tensor):
        return _handle_torch_function(kaiming_uniform_, (tensor,), tensor=tensor, a=a, mode=mode,
                                      nonlinearity=nonlinearity, generator=generator, **stream)
    std = _kaiming_std(tensor, a, mode, nonlinearity, stream)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std  # Calculate uniform bounds from standard deviation
    return fill(UNIFORM, tensor, (-bound, bound), generator, stream)


@random_function()
@_kaiming_doc(r"""Fill the input `Tensor` with values using a Kaiming normal distribution (He et al., 2015):
    :math:`\mathcal{N}(0, \text{std}^2)`, :math:`\text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}`.
""")
def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Optional[torch.Generator] = None,
    **stream,
) -> Tensor:
    std = _kaiming_std(tensor, a, mode, nonlinearity, stream)
    if std is None:
        return tensor
    return fill(NORMAL, tensor, (0, std), generator, stream)


def _finite_gain(gain, source: str) -> float:
    # torch fills NaN or inf here; a scale that is not a finite number is a bug at the call site.
    if not math.isfinite(gain):
        raise ValueError(f"the gain must be finite, but {source} gives {gain}")
    return gain


def _xavier_std(tensor: Tensor, gain: float) -> float:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    _finite_gain(gain, f"gain={gain}")
    if fan_in + fan_out == 0:
        # torch raises ZeroDivisionError here.
        raise ValueError(f"Xavier initialization needs fan_in + fan_out > 0, but the tensor has shape {tuple(tensor.shape)}")
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


@random_function()
def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Optional[torch.Generator] = None, **stream) -> Tensor:
    r"""Fill the input `Tensor` with values using a Xavier uniform distribution (Glorot & Bengio,
    2010): :math:`\mathcal{U}(-a, a)`, :math:`a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} +
    \text{fan\_out}}}`.

    Differs from torch: a tensor whose fan_in + fan_out is 0 raises ValueError (torch:
    ZeroDivisionError); ``seed=``/``offset=``.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        gain: an optional scaling factor
    """
    a = math.sqrt(3.0) * _xavier_std(logical_tensor(tensor, stream), gain)  # uniform bounds from the std
    return fill(UNIFORM, tensor, (-a, a), generator, stream)


@random_function()
def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Optional[torch.Generator] = None, **stream) -> Tensor:
    r"""Fill the input `Tensor` with values using a Xavier normal distribution (Glorot & Bengio,
    2010): :math:`\mathcal{N}(0, \text{std}^2)`, :math:`\text{std} = \text{gain} \times
    \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}`.

    Differs from torch: a tensor whose fan_in + fan_out is 0 raises ValueError (torch:
    ZeroDivisionError); ``seed=``/``offset=``.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        gain: an optional scaling factor
    """
    std = _xavier_std(logical_tensor(tensor, stream), gain)
    return fill(NORMAL, tensor, (0.0, std), generator, stream)
