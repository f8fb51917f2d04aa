// Everything in tg::dist in one include: the distributions, the KL registry and the conformance
// kit.
#pragma once
#include "tapegrad/distributions/bernoulli.hpp"
#include "tapegrad/distributions/categorical.hpp"
#include "tapegrad/distributions/continuous_bernoulli.hpp"
#include "tapegrad/distributions/distribution.hpp"
#include "tapegrad/distributions/independent.hpp"
#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/laplace.hpp"
#include "tapegrad/distributions/normal.hpp"
#include "tapegrad/distributions/testing.hpp"
#include "tapegrad/distributions/uniform.hpp"
