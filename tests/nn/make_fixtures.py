#!/usr/bin/python3
"""Makes the PyTorch reference numbers the nn tests compare against (tests/nn/fixtures/).

Run with Debian's python (it has torch 1.13 and numpy):  /usr/bin/python3 tests/nn/make_fixtures.py

- optim.json: a small linear-regression problem (fixed data and initial parameters, float64) and, for
  each optimizer configuration, the parameters after steps 1, 10, 20, ..., 100 of
      loss = mean((X W^T + b - Y)^2)
  One parameter, `unused`, is not in the loss: its gradient stays None and every optimizer must skip it.
  Two runs clip the gradients before each step (clip_grad_norm_, clip_grad_value_).
- lr_scheduler.json: the learning rate after construction and after each of 100 scheduler steps.
- layers.json: calculate_gain values, fans, nn.Linear's init bound, and the activation modules'
  outputs and gradients (LeakyReLU, Softplus with its threshold, GELU, ...) on fixed inputs.
- npy/*.npy: arrays saved by NumPy's np.save (the writer must reproduce them byte for byte) and files
  the reader must refuse (int64, Fortran order, big-endian).
"""
import json
import math
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
STEPS = 100
RECORD = [1] + list(range(10, STEPS + 1, 10))


def problem():
    # Values from closed forms, rounded to 6 decimals so the JSON stays short; the JSON is what the
    # C++ test reads, so it does not need to recompute them.
    X = [[round(math.sin(1.0 + 4 * i + j), 6) for j in range(4)] for i in range(10)]
    W_true = [[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -0.5, 1.0], [-2.0, 0.75, 1.0, -1.25]]
    Y = [[round(sum(W_true[k][j] * X[i][j] for j in range(4)) + 0.3 * k - 0.2
                + 0.1 * math.cos(7.0 * i + k), 6) for k in range(3)] for i in range(10)]
    W0 = [[round(0.3 * math.cos(1.0 + 3 * k + j), 6) for j in range(4)] for k in range(3)]
    b0 = [0.1, -0.2, 0.05]
    unused0 = [1.0, -2.0]
    return {"X": X, "Y": Y, "W": W0, "b": b0, "unused": unused0}


OPTIMIZERS = {
    "sgd_plain": ("SGD", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd_dampening": ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}),
    "sgd_clip_norm": ("SGD", {"lr": 0.1, "momentum": 0.5, "clip_norm": 0.5}),
    "sgd_clip_value": ("SGD", {"lr": 0.1, "clip_value": 0.2}),
    "adam_plain": ("Adam", {"lr": 0.01}),
    "adam_weight_decay": ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    "adam_amsgrad": ("Adam", {"lr": 0.02, "amsgrad": True}),
    "adam_betas_eps": ("Adam", {"lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-6}),
    "adamw_default": ("AdamW", {"lr": 0.01}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
}


def run_optimizer(kind, options, prob):
    X = torch.tensor(prob["X"], dtype=torch.float64)
    Y = torch.tensor(prob["Y"], dtype=torch.float64)
    W = torch.tensor(prob["W"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(prob["b"], dtype=torch.float64, requires_grad=True)
    unused = torch.tensor(prob["unused"], dtype=torch.float64, requires_grad=True)
    params = [W, b, unused]
    opts = {k: v for k, v in options.items() if k not in ("clip_norm", "clip_value")}
    if "betas" in opts:
        opts["betas"] = tuple(opts["betas"])
    if kind == "SGD":
        opt = torch.optim.SGD(params, foreach=False, **opts)
    else:  # the single-tensor code path: _single_tensor_adam / _single_tensor_adamw
        opt = getattr(torch.optim, kind)(params, foreach=False, **opts)
    records = []
    for step in range(1, STEPS + 1):
        opt.zero_grad(set_to_none=True)
        loss = ((X @ W.T + b - Y) ** 2).mean()
        loss.backward()
        norm = None
        if "clip_norm" in options:
            norm = float(torch.nn.utils.clip_grad_norm_(params, options["clip_norm"]))
        if "clip_value" in options:
            torch.nn.utils.clip_grad_value_(params, options["clip_value"])
        opt.step()
        if step in RECORD:
            rec = {"step": step, "loss": loss.item(), "W": W.tolist(), "b": b.tolist(),
                   "unused": unused.tolist()}
            if norm is not None:
                rec["total_norm"] = norm
            records.append(rec)
    return records


SCHEDULES = {
    "step": [("StepLR", {"step_size": 7, "gamma": 0.5})],
    "exponential": [("ExponentialLR", {"gamma": 0.95})],
    "cosine_cycles": [("CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001})],
    "cosine_full": [("CosineAnnealingLR", {"T_max": 100})],
    "linear_warmup": [("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 10})],
    "linear_default": [("LinearLR", {})],
    # Two schedules on one optimizer, both stepped each epoch (chained, like ChainedScheduler).
    "warmup_then_exponential": [("LinearLR", {"start_factor": 0.25, "total_iters": 8}),
                                ("ExponentialLR", {"gamma": 0.97})],
}


def run_schedule(specs, lr=0.1):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    scheds = [getattr(torch.optim.lr_scheduler, name)(opt, **kw) for name, kw in specs]
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(STEPS):
        opt.step()  # no gradient: a no-op, keeps PyTorch from warning about the call order
        for s in scheds:
            s.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def layers():
    gains = {}
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        gains[nl] = torch.nn.init.calculate_gain(nl)
    leaky = {str(a): torch.nn.init.calculate_gain("leaky_relu", a) for a in [0.0, 0.2, 1.0, math.sqrt(5)]}
    fans = []
    for shape in [(3, 4), (8, 3, 5, 5), (2, 3, 7), (6, 1)]:
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        fans.append({"shape": list(shape), "fan_in": fan_in, "fan_out": fan_out})
    # nn.Linear(7, 5).reset_parameters(): kaiming_uniform_(a=sqrt(5)) and the bias bound.
    fan_in = 7
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    linear_bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
    x = torch.tensor([-30.0, -5.0, -1.5, -0.7, -0.1, 0.05, 0.3, 1.0, 2.5, 9.0, 10.5, 21.0, 40.0],
                     dtype=torch.float64, requires_grad=True)
    acts = {
        "ReLU": torch.nn.ReLU(),
        "LeakyReLU": torch.nn.LeakyReLU(),
        "LeakyReLU_0.2": torch.nn.LeakyReLU(0.2),
        "Tanh": torch.nn.Tanh(),
        "Sigmoid": torch.nn.Sigmoid(),
        "Softplus": torch.nn.Softplus(),
        "Softplus_2_10": torch.nn.Softplus(beta=2, threshold=10),
        "GELU": torch.nn.GELU(),
    }
    out = {}
    for name, m in acts.items():
        x.grad = None
        y = m(x)
        (y * torch.linspace(0.5, 1.5, len(x), dtype=torch.float64)).sum().backward()
        out[name] = {"y": y.tolist(), "grad": x.grad.tolist()}
    return {"gains": gains, "leaky_relu_gains": leaky, "fans": fans,
            "linear_7_5_bound": linear_bound, "linear_7_5_bias_bound": 1 / math.sqrt(fan_in),
            "x": x.tolist(), "grad_weights": torch.linspace(0.5, 1.5, len(x), dtype=torch.float64).tolist(),
            "activations": out}


def write_json(name, obj):
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"{path}: {os.path.getsize(path)} bytes")


def write_npy():
    folder = os.path.join(OUT, "npy")
    os.makedirs(folder, exist_ok=True)
    arrays = {
        "f32_2x3": np.arange(6, dtype="<f4").reshape(2, 3) / 4 - 0.5,
        "f64_scalar": np.array(3.25, dtype="<f8"),
        "f32_vector5": np.array([1.5, -2.0, 0.0, 1e-3, 7.0], dtype="<f4"),
        "f64_2x3x4": np.arange(24, dtype="<f8").reshape(2, 3, 4) * 0.125,
        "f32_empty0x3": np.zeros((0, 3), dtype="<f4"),
        # What the reader must refuse:
        "bad_int64": np.arange(4, dtype="<i8"),
        "bad_fortran": np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
        "bad_bigendian": np.arange(3, dtype=">f4"),
    }
    for name, a in arrays.items():
        np.save(os.path.join(folder, name + ".npy"), a)
    print(f"{folder}: {len(arrays)} files")


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    prob = problem()
    runs = {}
    for name, (kind, options) in OPTIMIZERS.items():
        runs[name] = {"optimizer": kind, "options": options, "records": run_optimizer(kind, options, prob)}
    write_json("optim.json", {"torch": torch.__version__, "steps": STEPS, "problem": prob, "runs": runs})
    scheds = {name: {"lr": 0.1, "schedulers": [{"type": n, "options": kw} for n, kw in specs],
                     "lrs": run_schedule(specs)} for name, specs in SCHEDULES.items()}
    write_json("lr_scheduler.json", {"torch": torch.__version__, "steps": STEPS, "schedules": scheds})
    write_json("layers.json", {"torch": torch.__version__, **layers()})
    write_npy()


if __name__ == "__main__":
    main()
