#include <brook/testing.hpp>
#include <sstream>

#include "test_engine.hpp"

namespace brook::testing {

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::kHandled:
      return "handled";
    case Outcome::kRetrying:
      return "retrying";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kDeadLettered:
      return "dead-lettered";
    case Outcome::kUndecodable:
      return "undecodable";
    case Outcome::kMalformed:
      return "malformed";
    case Outcome::kWrongChannel:
      return "wrong channel";
    case Outcome::kDuplicate:
      return "duplicate";
    case Outcome::kDeclined:
      return "declined";
    case Outcome::kHeld:
      return "held";
  }
  return "?";
}

std::string_view Emitted::header(std::string_view name) const {
  for (const auto& [k, v] : envelope.headers) {
    if (k == name) return v;
  }
  return {};
}

namespace {
NodeOptions node_options(std::string node, const TestOptions& options) {
  NodeOptions o;
  if (options.program_options) {
    // The node's own parser, so declared types and errors are those of a process.
    std::vector<const char*> argv{"brook-test", "--topology", "-", "--node", node.c_str()};
    for (const auto& a : options.args)
      argv.push_back(a.c_str());
    std::ostringstream help;
    auto parsed = NodeOptions::parse(static_cast<int>(argv.size()), argv.data(), help,
                                     &*options.program_options);
    if (!parsed) throw UsageError("TestOptions::args asked for --help");
    o.own = std::move(parsed->own);
  } else if (!options.args.empty()) {
    throw UsageError("TestOptions::args need the program's options: with_program_options()");
  }
  o.node = std::move(node);
  o.instance = options.instance;
  o.overrides = options.overrides;
  o.log_level = options.log_level;
  o.handle_signals = false;
  return o;
}
}  // namespace

TestNode::TestNode(std::unique_ptr<Node> node, detail::TestEngine* engine)
    : node_(std::move(node)), engine_(engine) {}
TestNode::TestNode(TestNode&&) noexcept = default;
TestNode& TestNode::operator=(TestNode&&) noexcept = default;
TestNode::~TestNode() = default;

TestNode TestNode::make(NodeOptions options) {
  auto engine = std::make_unique<detail::TestEngine>(std::move(options));
  detail::TestEngine* raw = engine.get();
  return TestNode(std::unique_ptr<Node>(new Node(std::move(engine))), raw);
}

TestNode TestNode::from_file(const std::filesystem::path& topology, std::string node,
                             const TestOptions& options) {
  NodeOptions o = node_options(std::move(node), options);
  o.topology = topology;
  return make(std::move(o));
}

TestNode TestNode::from_yaml(std::string_view yaml, std::string node, const TestOptions& options,
                             const std::string& name) {
  LoadOptions lo;
  lo.overrides = options.overrides;
  lo.resolve_execs = false;
  NodeOptions o = node_options(std::move(node), options);
  o.topology = name;
  o.preloaded = std::make_shared<const Topology>(parse_topology(yaml, name, lo));
  return make(std::move(o));
}

TestNode TestNode::from_topology(Topology topology, std::string node, const TestOptions& options) {
  if (!options.overrides.empty()) {
    throw UsageError(
        "TestOptions::overrides apply to topology files and text: set the values on the "
        "Topology instead");
  }
  NodeOptions o = node_options(std::move(node), options);
  o.topology = topology.file;
  o.preloaded = std::make_shared<const Topology>(std::move(topology));
  return make(std::move(o));
}

void TestNode::start() {
  engine_->start();
}
void TestNode::stop() {
  engine_->shutdown();
}
bool TestNode::started() const noexcept {
  return engine_->ready();
}
bool TestNode::stop_requested() const noexcept {
  return engine_->stop_requested();
}

const Delivery& TestNode::send_raw(std::string_view port, std::span<const std::byte> payload,
                                   std::string_view type, const SendOptions& options) {
  return engine_->send_raw(port, payload, type, options);
}
const Delivery& TestNode::send_frame(std::string_view port, std::span<const std::byte> frame) {
  return engine_->send_frame(port, frame);
}
const std::deque<Delivery>& TestNode::deliveries() const noexcept {
  return engine_->deliveries();
}

void TestNode::advance(std::chrono::milliseconds d) {
  engine_->advance(d);
}
TestNode::Clock::time_point TestNode::now() const noexcept {
  return engine_->now();
}
std::optional<TestNode::Clock::time_point> TestNode::next_due() const {
  return engine_->next_due();
}

const std::vector<Emitted>& TestNode::emitted(std::string_view port) const {
  return engine_->emitted(port);
}
const std::vector<Emitted>& TestNode::dead_letters(std::string_view input_port) const {
  return engine_->dead_letters(input_port);
}
void TestNode::clear_emitted() {
  engine_->clear_emitted();
}
const ChannelCounters& TestNode::counters(std::string_view channel) const {
  return engine_->channel_counters(channel);
}

const ServedRequest& TestNode::request_raw(std::string_view port,
                                           std::span<const std::byte> payload,
                                           std::string_view type, const SendOptions& options) {
  return engine_->request_raw(port, payload, type, options);
}
const std::deque<SentRequest>& TestNode::sent_requests(std::string_view port) const {
  return engine_->sent_requests(port);
}
void TestNode::reply_raw(const SentRequest& request, std::span<const std::byte> payload,
                         std::string_view type) {
  engine_->reply_raw(request, type, payload);
}
void TestNode::fail_request(const SentRequest& request, std::string_view error) {
  engine_->fail_request(request, error);
}
void TestNode::set_server(std::string_view port, ServerFn fn) {
  engine_->set_server(port, std::move(fn));
}

namespace {
// The value of user counter or gauge `name`; a name the node has not declared is a ConfigError
// rather than 0, so that a misspelt name cannot pass a test that expects 0.
template <class Map>
typename Map::mapped_type user_metric(const Node& node, const Map& values, std::string_view kind,
                                      std::string_view name) {
  if (const auto it = values.find(name); it != values.end()) return it->second;
  const NodeCounters& c = node.counters();
  auto names = [](const auto& m) {
    std::string s;
    for (const auto& [n, v] : m)
      s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? std::string("none") : s;
  };
  throw ConfigError("node '" + node.name() + "' has declared no " + std::string(kind) + " '" +
                    std::string(name) + "' (counters: " + names(c.user_counters) +
                    "; gauges: " + names(c.user_gauges) + ")");
}
}  // namespace

std::uint64_t TestNode::counter(std::string_view name) const {
  return user_metric(*node_, node_->counters().user_counters, "counter", name);
}
std::int64_t TestNode::gauge(std::string_view name) const {
  return user_metric(*node_, node_->counters().user_gauges, "gauge", name);
}

}  // namespace brook::testing
