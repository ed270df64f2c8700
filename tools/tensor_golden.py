"""Writes torch_golden.json: PyTorch's CPU float32 results for the
element-wise kernels of package tensor (LayerNorm, GELU, softmax), which the
Go test TestKernels_torchParity compares against.

Run from the repository root with torch installed (dev only; the JSON is
committed):

    python3 tools/tensor_golden.py ml/tensor/testdata/torch_golden.json
"""

import sys

import json

import numpy as np
import torch

torch.set_num_threads(1)
rng = np.random.default_rng(20240611)


def f32list(a):
    # float(np.float32) is exact in float64, so the JSON round-trips.
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


ln_rows, ln_n, ln_eps = 6, 384, 1e-12
ln_x = (rng.standard_normal((ln_rows, ln_n)) * 2 + 0.3).astype(np.float32)
ln_x[5] += 50  # a row with a large mean
ln_g = (rng.standard_normal(ln_n) * 0.2 + 1).astype(np.float32)
ln_b = (rng.standard_normal(ln_n) * 0.1).astype(np.float32)
ln_y = torch.nn.functional.layer_norm(
    torch.from_numpy(ln_x), (ln_n,), torch.from_numpy(ln_g), torch.from_numpy(ln_b), ln_eps
).numpy()

gelu_x = np.concatenate(
    [(rng.standard_normal(2000) * 3), np.linspace(-9, 9, 301), [0.0, -0.0, 1e-8, -1e-8]]
).astype(np.float32)
gelu_y = torch.nn.functional.gelu(torch.from_numpy(gelu_x)).numpy()

sm_rows, sm_n = 5, 77
sm_x = (rng.standard_normal((sm_rows, sm_n)) * 4).astype(np.float32)
sm_x[4] -= 1000  # large offsets must not matter
sm_y = torch.softmax(torch.from_numpy(sm_x), dim=-1).numpy()

golden = {
    "torch_version": torch.__version__,
    "layer_norm": {"n": ln_n, "eps": ln_eps, "x": f32list(ln_x), "gamma": f32list(ln_g),
                   "beta": f32list(ln_b), "y": f32list(ln_y)},
    "gelu": {"x": f32list(gelu_x), "y": f32list(gelu_y)},
    "softmax": {"n": sm_n, "x": f32list(sm_x), "y": f32list(sm_y)},
}
with open(sys.argv[1] if len(sys.argv) > 1 else "ml/tensor/testdata/torch_golden.json", "w") as f:
    json.dump(golden, f, separators=(",", ":"))
    f.write("\n")
