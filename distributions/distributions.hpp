// Everything in tg::dist in one include: the distributions, the KL registry and the conformance
// kit.
#pragma once
#include "distributions/bernoulli.hpp"
#include "distributions/categorical.hpp"
#include "distributions/continuous_bernoulli.hpp"
#include "distributions/distribution.hpp"
#include "distributions/independent.hpp"
#include "distributions/kl.hpp"
#include "distributions/laplace.hpp"
#include "distributions/normal.hpp"
#include "distributions/testing.hpp"
#include "distributions/uniform.hpp"
