// Lookups on a loaded topology.
#include <algorithm>
#include <brook/topology.hpp>

#include "topology/endpoint.hpp"

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

const std::string* NodeSpec::host_of(int instance) const noexcept {
  if (hosts.empty() || instance < 0) return nullptr;
  if (hosts.size() == 1) return &hosts.front();
  const auto i = static_cast<std::size_t>(instance);
  return i < hosts.size() ? &hosts[i] : nullptr;
}

const HostSpec* Topology::host(std::string_view name) const noexcept {
  auto it =
      std::find_if(hosts.begin(), hosts.end(), [&](const HostSpec& h) { return h.name == name; });
  return it == hosts.end() ? nullptr : &*it;
}

std::vector<std::string> Topology::directory_endpoints_on(const HostSpec& host) const {
  std::vector<std::string> out;
  // An endpoint belongs to the first host (in file order) it names, so that hosts sharing an
  // address (one machine playing two) do not both start a directory on it.
  for (const auto& ep : directory.endpoints) {
    const std::string_view h = detail::endpoint_host(ep);
    auto owner = std::find_if(hosts.begin(), hosts.end(), [&](const HostSpec& x) {
      return !h.empty() && (h == x.address || h == x.name);
    });
    if (owner != hosts.end() && owner->name == host.name) out.push_back(ep);
  }
  return out;
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
