// Every registered KL pair reaches the registry, whatever the program names. This file names no
// distribution and no KL function: a registration made at static initialization in an object file
// of a static library is linked only because the library is linked whole-archive (the pitfall of
// docs/distributions.md, section 2). Two archives are checked: tg_distributions (every built-in
// pair), and tg_test_kl_plugin (kl_plugin/plugin.cpp, a pair added by this test).
#include <catch2/catch.hpp>
#include <string>

#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg::dist;

namespace {
bool registered(const std::string& p, const std::string& q) {
  for (const KLEntry& e : registered_kl_pairs())
    if (e.p_name == p && e.q_name == q) return true;
  return false;
}
}  // namespace

TEST_CASE("every built-in KL pair is registered in a program that names none",
          "[distributions][kl]") {
  for (const char* name : {"Normal", "Bernoulli", "Categorical", "Laplace", "Uniform",
                           "ContinuousBernoulli", "Independent"}) {
    INFO(name);
    CHECK(registered(name, name));
  }
}

TEST_CASE("a pair registered in an archive object nothing names reaches the audit",
          "[distributions][kl]") {
  REQUIRE(registered("PluginNormal", "PluginNormal"));
  // with no example for it, the audit fails and names the pair
  const ConformanceReport r = audit_kl({});
  INFO(r.to_string());
  REQUIRE(r.failed("PluginNormal || PluginNormal"));
  CHECK_THAT(r.find("PluginNormal || PluginNormal")->detail, Catch::Contains("no example"));
}
