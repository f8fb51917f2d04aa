// A KL pair registered in an object file that no test names: compiled into its own static library
// (tg_test_kl_plugin) and linked whole-archive into distributions_test_kl_link, the way an
// extender's library of distributions is linked. test_kl_link.cpp checks that its registration
// reaches the registry, and that the audit reports it as missing an example.
#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/normal.hpp"

namespace tg::dist {
namespace {

// A Normal under a type of its own, so that the registry keys it separately.
class PluginNormal : public Normal {
 public:
  using Normal::Normal;
  std::string name() const override { return "PluginNormal"; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& p) const override {
    return std::make_shared<PluginNormal>(p.at(0), p.at(1));
  }
};

Variable kl_plugin(const PluginNormal& p, const PluginNormal& q) { return kl_normal_normal(p, q); }

}  // namespace

TG_REGISTER_KL(PluginNormal, PluginNormal, kl_plugin);

}  // namespace tg::dist
