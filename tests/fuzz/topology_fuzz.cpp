// libFuzzer target: topology files (docs/topology.md), from YAML text to a validated Topology.
//
// parse_topology reports every problem as a TopologyError with located diagnostics (and text over
// the size limit as a brook::Error); any other exception, a crash, a hang or a sanitizer report is
// a finding. Lines starting with "#--set " (comments to YAML) are also given as overrides.
#include <brook/params.hpp>
#include <brook/topology.hpp>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

// A fixed environment, so that a finding reproduces anywhere; PATH is unset, so `exec` names
// are not looked up on the machine.
std::optional<std::string> environment(const std::string& name) {
  if (name == "PORT") return "5670";
  if (name == "HOST") return "127.0.0.1";
  if (name == "EMPTY") return "";
  return std::nullopt;
}

// What nodes and tools read from a loaded topology.
void use(const brook::Topology& t) {
  for (const auto& channel : t.channels) {
    require(t.channel(channel.name) == &channel);
    (void)t.consumers(channel.name);
    (void)t.producers(channel.name);
  }
  for (const auto& node : t.nodes) {
    require(t.node(node.name) == &node);
    const brook::Params& params = node.params;
    try {
      (void)params.get<std::string>("a.b", "");
      (void)params.get<std::int64_t>("rate", 0);
      (void)params.get<std::vector<std::uint32_t>>("sizes", {});
      (void)params.sub("nested").has("x");
      for (const auto& key : params.keys())
        (void)params.has(key);
      for (const auto& item : params.list("updates"))
        (void)item.get<std::string>("sku", "");
    } catch (const brook::ConfigError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  brook::LoadOptions options;
  options.env = environment;
  constexpr std::string_view kSet = "#--set ";
  for (std::size_t at = text.find(kSet); at != std::string_view::npos; at = text.find(kSet, at)) {
    at += kSet.size();
    options.overrides.emplace_back(text.substr(at, text.find('\n', at) - at));
  }
  try {
    use(brook::parse_topology(text, "fuzz.yaml", options));
  } catch (const brook::TopologyError& e) {
    require(!e.diagnostics().empty());
  } catch (const brook::Error&) {
    require(text.size() > options.max_file_size);
  }
  return 0;
}
