"""A model that initialises itself the way training stacks do (torchtitan, Hugging Face):
torch.nn.init partials held since import, temporaries made from a parameter and copied into it
(torchtitan's fused wqkv), Tensor methods on .data, a norm without a reset method, a random
buffer. Shared by the tests of init_module_(init=) in one process and sharded."""

import functools

import torch
import torch.nn as nn
import torch.nn.init as tinit

# As torchtitan holds its laws: partials of torch.nn.init made when the module is imported.
LINEAR_INIT = {"weight": functools.partial(tinit.trunc_normal_, std=0.02), "bias": tinit.zeros_}


class RMSNorm(nn.Module):
    """A norm with no reset method (as Hugging Face's LlamaRMSNorm)."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim, bias=False)
        self.norm = RMSNorm(dim)
        self.register_buffer("gate", torch.empty(dim))

    def init_weights(self):
        # Fused: three temporaries made from the parameter, each filled, then copied in.
        weight = self.qkv.weight
        parts = [weight.new_empty(weight.shape[0] // 3, weight.shape[1]) for _ in range(3)]
        for part in parts:
            LINEAR_INIT["weight"](part)
        weight.copy_(torch.cat(parts))
        LINEAR_INIT["bias"](self.qkv.bias)
        self.proj.weight.data.normal_(std=0.01)  # a Tensor method, on .data
        self.norm.weight.fill_(1.0)
        self.gate.uniform_(0.5, 1.5)  # a random buffer


class Model(nn.Module):
    def __init__(self, blocks=(0, 1, 2), dim=16):
        super().__init__()
        self.embed = nn.Embedding(50, dim)
        self.blocks = nn.ModuleDict({str(k): Block(dim) for k in blocks})
        self.head = nn.Linear(dim, 5)

    def init_weights(self, reverse=False):
        for block in (reversed if reverse else list)(list(self.blocks.values())):
            block.init_weights()
        tinit.normal_(self.embed.weight, std=0.5)
        tinit.kaiming_uniform_(self.head.weight, a=5 ** 0.5)
        torch.nn.init.zeros_(self.head.bias)


