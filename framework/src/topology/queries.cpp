// Lookups on a loaded topology.
#include <algorithm>
#include <brook/topology.hpp>

namespace brook {

namespace {

const PortSpec* find_port(const std::vector<PortSpec>& ports, std::string_view port) noexcept {
  auto it =
      std::find_if(ports.begin(), ports.end(), [&](const PortSpec& p) { return p.port == port; });
  return it == ports.end() ? nullptr : &*it;
}

bool uses(const std::vector<PortSpec>& ports, std::string_view channel) {
  return std::any_of(ports.begin(), ports.end(),
                     [&](const PortSpec& p) { return p.channel == channel; });
}

}  // namespace

const PortSpec* NodeSpec::input(std::string_view port) const noexcept {
  return find_port(inputs, port);
}

const PortSpec* NodeSpec::output(std::string_view port) const noexcept {
  return find_port(outputs, port);
}

const ChannelSpec* Topology::channel(std::string_view name) const noexcept {
  auto it = std::find_if(channels.begin(), channels.end(),
                         [&](const ChannelSpec& c) { return c.name == name; });
  return it == channels.end() ? nullptr : &*it;
}

const NodeSpec* Topology::node(std::string_view name) const noexcept {
  auto it =
      std::find_if(nodes.begin(), nodes.end(), [&](const NodeSpec& n) { return n.name == name; });
  return it == nodes.end() ? nullptr : &*it;
}

std::vector<const NodeSpec*> Topology::consumers(std::string_view channel) const {
  std::vector<const NodeSpec*> out;
  for (const auto& n : nodes) {
    if (uses(n.inputs, channel)) out.push_back(&n);
  }
  return out;
}

std::vector<const NodeSpec*> Topology::producers(std::string_view channel) const {
  std::vector<const NodeSpec*> out;
  for (const auto& n : nodes) {
    if (uses(n.outputs, channel)) out.push_back(&n);
  }
  return out;
}

}  // namespace brook
