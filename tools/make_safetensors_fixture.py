#!/usr/bin/env python3
"""Write ml/safetensors/testdata/fixture.safetensors with the reference library.

The Go reader is tested against this file so that it agrees with the
Python `safetensors` package (the one sentence-transformers uses) on a file
that package wrote, not only on files our own writer produced. The values are
fixed and repeated in ml/safetensors/fixture_test.go; change both together.

Usage (from the repository root; needs `pip install safetensors numpy`):

    python3 tools/make_safetensors_fixture.py [OUTPUT]
"""

import sys

import numpy as np
from safetensors import TensorSpec, serialize

DEFAULT_OUTPUT = "ml/safetensors/testdata/fixture.safetensors"


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT

    # F32 [2, 3]: i * 0.25 - 0.5, exact in binary.
    f32 = (np.arange(6, dtype=np.float32) * np.float32(0.25) - np.float32(0.5)).reshape(2, 3)
    # F32 special values: -0, +inf, -inf, smallest subnormal, largest finite, quiet NaN.
    f32_special = np.array(
        [-0.0, np.inf, -np.inf, np.float32(2.0**-149), np.finfo(np.float32).max, np.nan],
        dtype=np.float32,
    )
    # F16 [2, 5]: signed zeros, ordinary values, the nearest half to 1/3, the
    # largest finite half, the smallest subnormal and normal halves, infinities.
    f16 = np.array(
        [0.0, -0.0, 1.0, -2.0, 1.0 / 3.0, 65504.0, 2.0**-24, 2.0**-14, np.inf, -np.inf],
        dtype=np.float16,
    ).reshape(2, 5)
    # BF16 [4] given as bits, since numpy has no bfloat16: 1.0, -3.140625,
    # the smallest subnormal (2^-133) and the largest finite value.
    bf16 = np.array([0x3F80, 0xC049, 0x0001, 0x7F7F], dtype=np.uint16)
    # I64 [1, 4]: like BERT's position_ids, a dtype the engine does not read as float.
    i64 = np.arange(4, dtype=np.int64).reshape(1, 4)
    # F32 with no elements.
    empty = np.zeros((0, 3), dtype=np.float32)

    arrays = {
        "f32.matrix": (f32, "float32"),
        "f32.special": (f32_special, "float32"),
        "f16.values": (f16, "float16"),
        "bf16.values": (bf16, "bfloat16"),
        "i64.ids": (i64, "int64"),
        "f32.empty": (empty, "float32"),
    }
    for arr, _ in arrays.values():
        assert arr.dtype.byteorder in "=<|" and sys.byteorder == "little"
    specs = {
        name: TensorSpec(dtype=dtype, shape=list(arr.shape), data_ptr=arr.ctypes.data, data_len=arr.nbytes)
        for name, (arr, dtype) in arrays.items()
    }
    data = bytes(serialize(specs, metadata={"format": "pt"}))
    with open(out, "wb") as f:
        f.write(data)
    print(f"wrote {out}: {len(data)} bytes, {len(specs)} tensors")


if __name__ == "__main__":
    main()
