"""An independent NumPy model of stream contract v2 (docs/stream.md), written from the
contract's text and Random123's definition of Philox4x32-10, sharing no code with csrc/."""

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter, key):
    """counter: (n, 4) uint32 array; key: (k0, k1). Returns the (n, 4) uint32 outputs."""
    c = [np.asarray(counter[:, i], dtype=np.uint64) for i in range(4)]
    k0, k1 = key
    for _ in range(10):
        p0 = M0 * c[0]
        p1 = M1 * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK32
        c = [hi1 ^ c[1] ^ np.uint64(k0), lo1, hi0 ^ c[3] ^ np.uint64(k1), lo0]
        k0 = (k0 + W0) & 0xFFFFFFFF
        k1 = (k1 + W1) & 0xFFFFFFFF
    return np.stack(c, axis=1).astype(np.uint32)


def key_of(seed):
    seed %= 2**64
    return seed & 0xFFFFFFFF, seed >> 32


def element_indices(n, offset):
    return (np.uint64(offset % 2**64) + np.arange(n, dtype=np.uint64))  # wraps mod 2^64


def uniform_bits(n, seed, offset, wide):
    """The 32-bit (wide=False) or 64-bit (wide=True) word r of each element."""
    g = element_indices(n, offset)
    shift = np.uint64(1 if wide else 2)
    counters = g >> shift
    counter = np.zeros((n, 4), dtype=np.uint32)
    counter[:, 0] = (counters & MASK32).astype(np.uint32)
    counter[:, 1] = (counters >> np.uint64(32)).astype(np.uint32)
    words = philox4x32_10(counter, key_of(seed))
    rows = np.arange(n)
    if not wide:
        return words[rows, (g & np.uint64(3)).astype(np.int64)]
    half = (g & np.uint64(1)).astype(np.int64)
    lo = words[rows, 2 * half].astype(np.uint64)
    hi = words[rows, 2 * half + 1].astype(np.uint64)
    return (hi << np.uint64(32)) | lo


def uniform(n, seed, offset, dtype):
    """u of each element: float32 grid for 32-bit-or-narrower dtypes, float64 grid for float64."""
    if dtype == "float64":
        r = uniform_bits(n, seed, offset, wide=True)
        return (r >> np.uint64(12)).astype(np.float64) * 2.0**-52 + 2.0**-53
    r = uniform_bits(n, seed, offset, wide=False)
    return ((r >> np.uint32(9)).astype(np.float64) * 2.0**-23 + 2.0**-24).astype(np.float32)


def quantile_uniform(n, seed, offset, dtype):
    """u of each element as the quantile fills (normal_, trunc_normal_) take it, exactly, in
    float64: u = (r + 1/2) 2^-32 for 32-bit-or-narrower dtypes (contract v2), the float64
    grid for float64."""
    if dtype == "float64":
        return uniform(n, seed, offset, dtype)
    r = uniform_bits(n, seed, offset, wide=False)
    return (r.astype(np.float64) + 0.5) * 2.0**-32
