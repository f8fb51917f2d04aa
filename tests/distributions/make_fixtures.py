#!/usr/bin/python3
"""Reference values for the tg::dist tests, computed by torch.distributions in float64.

Run with Debian's python (which has torch):  /usr/bin/python3 tests/distributions/make_fixtures.py
It writes tests/distributions/fixtures/torch_reference.json. Tensors are stored as
{"shape": [...], "data": [...]} with row-major data; infinities as the strings "inf" and "-inf"
(JSON has no literal for them). Floats are written with repr, so they round-trip exactly.
"""
import json
import math
import os

import torch
import torch.distributions as D

torch.set_default_dtype(torch.float64)
D.Distribution.set_default_validate_args(False)  # out-of-support values must give -inf, not raise
g = torch.Generator().manual_seed(1234)


def t(x):
    x = torch.as_tensor(x, dtype=torch.float64).detach()
    enc = lambda v: ("inf" if v > 0 else "-inf") if math.isinf(v) else v
    return {"shape": list(x.shape), "data": [enc(v) for v in x.reshape(-1).tolist()]}


def summary(d, value, **extra):
    out = {"value": t(value), "log_prob": t(d.log_prob(value)), "entropy": t(d.entropy()),
           "mean": t(d.mean), "variance": t(d.variance)}
    out.update({k: t(v) for k, v in extra.items()})
    return out


cases = {}

# Normal: loc (2, 3) and scale (3) broadcast to the batch shape (2, 3); values (4, 2, 3).
loc = torch.tensor([[0.3, -1.2, 2.0], [0.0, 0.5, -0.7]])
scale = torch.tensor([0.8, 1.7, 0.25])
d = D.Normal(loc, scale)
cases["normal"] = {"loc": t(loc), "scale": t(scale),
                   **summary(d, torch.randn(4, 2, 3, generator=g) * 2, stddev=d.stddev)}

# Bernoulli from logits and from probs (interior values: torch clamps probs at 0 and 1).
logits = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0, 30.0])
value = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]])
cases["bernoulli_logits"] = {"logits": t(logits), **summary(D.Bernoulli(logits=logits), value)}
probs = torch.tensor([0.1, 0.3, 0.5, 0.9, 0.999, 1e-6])
cases["bernoulli_probs"] = {"probs": t(probs), **summary(D.Bernoulli(probs=probs), value)}

# ContinuousBernoulli: logits across the Taylor window lambda in (0.499, 0.501], i.e. |logits| < 0.004.
logits = torch.tensor([-6.0, -1.5, -0.0041, -0.003, 0.0, 0.0008, 0.002, 0.0039, 0.0041, 0.9, 4.0])
value = torch.rand(3, logits.numel(), generator=g)
value[0, 0] = 0.0
value[1, 1] = 1.0
d = D.ContinuousBernoulli(logits=logits)
u = torch.rand(3, logits.numel(), generator=g)
# Exact CDF and inverse in the natural parameter eta = logits (stable for small eta with expm1/log1p):
# F(x) = expm1(eta x) / expm1(eta),  F^-1(u) = log1p(u expm1(eta)) / eta. tapegrad uses them (through
# Taylor expansions) inside torch's window, where torch's cdf/icdf return their argument.
cdf_exact = torch.expm1(logits * value) / torch.expm1(logits)
icdf_exact = torch.log1p(u * torch.expm1(logits)) / logits
zero = logits == 0
cdf_exact[:, zero] = value[:, zero]
icdf_exact[:, zero] = u[:, zero]
cases["continuous_bernoulli"] = {"logits": t(logits), "u": t(u),
                                 **summary(d, value, cdf=d.cdf(value), icdf=d.icdf(u),
                                           cdf_exact=cdf_exact, icdf_exact=icdf_exact,
                                           in_window=~d._outside_unstable_region(),
                                           log_normalizer=d._cont_bern_log_norm())}

# Categorical: logits (3, 4), one row with an impossible category; values (2, 3).
logits = torch.tensor([[0.1, -1.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.0, -math.inf, -2.0, 3.0]])
value = torch.tensor([[2.0, 0.0, 3.0], [1.0, 3.0, 0.0]])
d = D.Categorical(logits=logits)
cases["categorical"] = {"logits": t(logits), "value": t(value), "log_prob": t(d.log_prob(value)),
                        "entropy": t(d.entropy()), "probs": t(d.probs)}

# Laplace: loc (3) and scale (2, 1) broadcast to (2, 3); values (4, 2, 3).
loc = torch.tensor([0.3, -1.0, 2.5])
scale = torch.tensor([[0.6], [2.2]])
d = D.Laplace(loc, scale)
cases["laplace"] = {"loc": t(loc), "scale": t(scale),
                    **summary(d, torch.randn(4, 2, 3, generator=g) * 2, stddev=d.stddev)}

# Uniform: values inside and outside [low, high) (high itself is outside).
low = torch.tensor([0.0, -2.0, 1.5])
high = torch.tensor([1.0, 3.0, 1.75])
value = torch.tensor([[0.5, -2.0, 1.6], [1.0, 3.5, 1.4], [-0.1, 2.999, 1.75]])
cases["uniform"] = {"low": t(low), "high": t(high), **summary(D.Uniform(low, high), value)}

# Independent(Normal (2, 3), 1): event (3), batch (2).
loc = torch.tensor([[0.3, -1.2, 2.0], [0.0, 0.5, -0.7]])
scale = torch.tensor([[0.8, 1.7, 0.25], [1.1, 0.4, 0.9]])
d = D.Independent(D.Normal(loc, scale), 1)
cases["independent_normal"] = {"loc": t(loc), "scale": t(scale),
                               **summary(d, torch.randn(4, 2, 3, generator=g))}

# cdf and icdf (issue 11): Normal, Laplace and Uniform, with their gradients with respect to the
# parameters and the argument (the sum of the outputs, backpropagated).
def cdf_case(make, params, value, u):
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    value = value.clone().requires_grad_(True)
    u = u.clone().requires_grad_(True)
    d = make(**params)
    out = {k: t(v) for k, v in params.items()}
    out.update({"value": t(value), "u": t(u)})
    cdf = d.cdf(value)
    grads = torch.autograd.grad(cdf.sum(), list(params.values()) + [value])
    out["cdf"] = t(cdf)
    out.update({"cdf_grad_" + k: t(g) for k, g in zip(list(params) + ["value"], grads)})
    icdf = d.icdf(u)
    grads = torch.autograd.grad(icdf.sum(), list(params.values()) + [u])
    out["icdf"] = t(icdf)
    out.update({"icdf_grad_" + k: t(g) for k, g in zip(list(params) + ["u"], grads)})
    return out


u = torch.tensor([[0.001, 0.2, 0.5], [0.7, 0.95, 0.999999]])
cases["normal_cdf"] = cdf_case(D.Normal, {"loc": torch.tensor([0.3, -1.2, 2.0]), "scale": torch.tensor([0.8, 1.7, 0.25])},
                               torch.tensor([[0.0, -4.0, 2.1], [1.5, 0.2, 1.0]]), u)
cases["laplace_cdf"] = cdf_case(D.Laplace, {"loc": torch.tensor([0.3, -1.0, 2.5]), "scale": torch.tensor([0.6, 2.2, 1.0])},
                                torch.tensor([[0.0, -4.0, 2.6], [1.5, 0.2, 1.0]]), u)
cases["uniform_cdf"] = cdf_case(D.Uniform, {"low": torch.tensor([0.0, -2.0, 1.5]), "high": torch.tensor([1.0, 3.0, 1.75])},
                                torch.tensor([[0.5, -1.0, 1.6], [0.25, 2.5, 1.7]]), u)
y = torch.tensor([-0.999999, -0.9, -0.5, -1e-8, 0.0, 0.3, 0.77, 0.99, 0.9999999999, 1 - 1e-15])
cases["erfinv"] = {"x": t(y), "erfinv": t(torch.erfinv(y))}

# From probs (issue 11): Categorical (normalized by torch; no zero here, where torch clamps) and
# ContinuousBernoulli (probs across the Taylor window at 1/2).
probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 2.0, 4.0]])
value = torch.tensor([[0.0, 3.0], [2.0, 1.0]]).T
d = D.Categorical(probs=probs)
cases["categorical_probs"] = {"probs": t(probs), "value": t(value), "log_prob": t(d.log_prob(value)),
                              "entropy": t(d.entropy()), "normalized": t(d.probs)}
probs = torch.tensor([0.02, 0.3, 0.4995, 0.5, 0.5004, 0.8, 0.97])
value = torch.rand(2, probs.numel(), generator=g)
d = D.ContinuousBernoulli(probs=probs)
cases["continuous_bernoulli_probs"] = {"probs": t(probs), **summary(d, value, logits=d.logits)}

# expand (issue 11): a Normal of batch (3) and a Categorical of batch (2) expanded, log_prob of
# values of the new batch shapes.
d = D.Normal(torch.tensor([0.3, -1.2, 2.0]), torch.tensor([0.8, 1.7, 0.25])).expand((4, 3))
value = torch.randn(2, 4, 3, generator=g)
cases["normal_expand"] = {"loc": t(torch.tensor([0.3, -1.2, 2.0])), "scale": t(torch.tensor([0.8, 1.7, 0.25])),
                          "batch_shape": list(d.batch_shape), **summary(d, value)}
logits = torch.tensor([[0.1, -1.0, 2.0], [0.0, 0.5, -0.5]])
d = D.Categorical(logits=logits).expand((3, 2))
value = torch.tensor([[[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]]])
cases["categorical_expand"] = {"logits": t(logits), "batch_shape": list(d.batch_shape), "value": t(value),
                               "log_prob": t(d.log_prob(value)), "entropy": t(d.entropy())}

# KL divergences.
kl = {}
p, q = D.Normal(torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.5, 1.5, 1.0])), \
    D.Normal(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [0.7]]))
kl["normal_normal"] = {"p_loc": t(p.loc), "p_scale": t(p.scale), "q_loc": t(torch.tensor([[0.0], [1.0]])),
                       "q_scale": t(torch.tensor([[1.0], [0.7]])), "kl": t(D.kl_divergence(p, q))}
lp, lq = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0]), torch.tensor([0.2, 1.0, -2.0, 0.7, -1.0])
kl["bernoulli_bernoulli"] = {"p_logits": t(lp), "q_logits": t(lq),
                             "kl": t(D.kl_divergence(D.Bernoulli(logits=lp), D.Bernoulli(logits=lq)))}
lp = torch.tensor([[0.1, -1.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.0, -math.inf, -2.0, 3.0]])
lq = torch.tensor([[1.0, 0.0, -1.0, 0.5], [2.0, -1.0, 0.5, 0.0], [0.0, 0.0, 0.0, -math.inf]])
kl["categorical_categorical"] = {"p_logits": t(lp), "q_logits": t(lq),
                                 "kl": t(D.kl_divergence(D.Categorical(logits=lp), D.Categorical(logits=lq)))}
p = D.Laplace(torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.5, 1.5, 1.0]))
q = D.Laplace(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 0.7, 3.0]))
kl["laplace_laplace"] = {"p_loc": t(p.loc), "p_scale": t(p.scale), "q_loc": t(q.loc), "q_scale": t(q.scale),
                         "kl": t(D.kl_divergence(p, q))}
p = D.Uniform(torch.tensor([0.0, -1.0, 0.5]), torch.tensor([1.0, 1.0, 2.0]))
q = D.Uniform(torch.tensor([-0.5, -1.0, 0.6]), torch.tensor([2.0, 1.5, 3.0]))
kl["uniform_uniform"] = {"p_low": t(p.low), "p_high": t(p.high), "q_low": t(q.low), "q_high": t(q.high),
                         "kl": t(D.kl_divergence(p, q))}
lp = torch.tensor([-2.0, -0.003, 0.0, 0.002, 1.0, 3.0])
lq = torch.tensor([0.5, 0.001, -1.0, 0.0, 1.0, -0.0035])
kl["continuous_bernoulli_continuous_bernoulli"] = {
    "p_logits": t(lp), "q_logits": t(lq),
    "kl": t(D.kl_divergence(D.ContinuousBernoulli(logits=lp), D.ContinuousBernoulli(logits=lq)))}
ploc, pscale = torch.tensor([[0.3, -1.2, 2.0], [0.0, 0.5, -0.7]]), torch.tensor([[0.8, 1.7, 0.25], [1.1, 0.4, 0.9]])
qloc, qscale = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([1.0, 2.0, 0.5])
kl["independent_independent"] = {
    "p_loc": t(ploc), "p_scale": t(pscale), "q_loc": t(qloc), "q_scale": t(qscale),
    "kl": t(D.kl_divergence(D.Independent(D.Normal(ploc, pscale), 1), D.Independent(D.Normal(qloc, qscale), 1)))}
cases["kl"] = kl

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "tests/distributions/make_fixtures.py", "torch": torch.__version__, "cases": cases},
              f, indent=1)
    f.write("\n")
print("wrote", out)
