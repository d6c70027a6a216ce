// brook::Node and brook::Message: the public face of NodeRuntime.
#include <brook/node.hpp>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <utility>

#include "runtime/node_engine.hpp"
#include "runtime/node_runtime.hpp"

namespace brook {

const msgpack::object& Message::payload() const {
  if (!decoded_) {
    const DecodeStatus st = decoder_->unpack(envelope_->payload, payload_);
    if (!st) throw PayloadError(st, "payload: " + st.describe());
    decoded_ = true;
  }
  return payload_;
}

namespace detail {

void AcceptedTypes::refuse(const Message& m) const {
  // The envelope's type is the producer's, up to the decoder's limit: shortened for the log.
  std::string what = "message of type '" + std::string(m.type().substr(0, 64)) + "' on port '" +
                     std::string(m.port()) + "', which takes '" + std::string(type_) + "'";
  if (!aliases_.empty()) {
    what += " (and aliases";
    for (std::size_t i = 0; i < aliases_.size(); ++i)
      what += (i == 0 ? " '" : ", '") + aliases_[i] + "'";
    what += ")";
  }
  what += ": the producer must send that type, or the handler accept it (brook::also_accept)";
  throw PayloadError(DecodeStatus{DecodeErrc::kTypeMismatch, "type", 0}, std::move(what));
}

}  // namespace detail

namespace {
NodeOptions parse_or_exit(int argc, char** argv, const ProgramOptions* own) {
  try {
    auto o = NodeOptions::parse(argc, argv, std::cout, own);
    if (!o) std::exit(0);
    return std::move(*o);
  } catch (const UsageError& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n\n" << NodeOptions::usage(own);
    std::exit(2);
  }
}

[[noreturn]] void exit_with(const Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  std::cout.flush();
  std::exit(2);
}

// Called in a catch block. A brook::Error from main() before run() is a configuration problem,
// not a crash: a Node made from the command line says what it is and exits 2 (not restarted by
// `brook up`), as for one found while constructing, rather than letting it escape main() into
// std::terminate's abort and core dump. The library installs no std::set_terminate for this:
// a process-wide handler belongs to the program. Otherwise, and once running, rethrows.
[[noreturn]] void configuration_error(const detail::NodeEngine& engine) {
  if (!engine.exits_on_configuration_error()) throw;
  try {
    throw;
  } catch (const Error& e) {
    exit_with(e);
  }
}

// The terminate handler in place when the library was loaded: the C++ runtime's own, unless a
// program set one during static initialisation.
const std::terminate_handler kStartupTerminate = std::get_terminate();

// A brook::Error escaping main() that no Node call caught (a bad param read with
// node.params().get(), a ConfigError of the program's own) is still a configuration problem:
// said and exit 2. Only while the program has no terminate handler of its own: one it set stays
// in place (it then catches brook::Error in main() for the same result).
void exit_2_on_uncaught_brook_error() {
  if (std::get_terminate() != kStartupTerminate) return;
  static const std::terminate_handler previous = std::set_terminate([] {
    if (const std::exception_ptr e = std::current_exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const Error& error) {
        std::cerr << "error: " << error.what() << "\n";
        std::_Exit(2);
      } catch (...) {
        // Not ours: the runtime's handler reports it.
      }
    }
    if (previous != nullptr) previous();
    std::abort();
  });
}

std::unique_ptr<detail::NodeEngine> make_or_exit(NodeOptions options) {
  exit_2_on_uncaught_brook_error();
  try {
    return std::make_unique<NodeRuntime>(std::move(options));
  } catch (const TopologyError& e) {
    std::cerr << e.what() << "\n";
  } catch (const ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
  }
  std::exit(2);
}
}  // namespace

Node::Node(int argc, char** argv) : engine_(make_or_exit(parse_or_exit(argc, argv, nullptr))) {
  engine_->exit_on_configuration_error();
}
Node::Node(int argc, char** argv, const ProgramOptions& own_options)
    : engine_(make_or_exit(parse_or_exit(argc, argv, &own_options))) {
  engine_->exit_on_configuration_error();
}
Node::Node(NodeOptions options) : engine_(std::make_unique<NodeRuntime>(std::move(options))) {}
Node::Node(std::unique_ptr<detail::NodeEngine> engine) : engine_(std::move(engine)) {}
Node::~Node() = default;

Node& Node::on(std::string_view port, std::function<void(const Message&)> fn) {
  try {
    engine_->set_handler(port, std::move(fn));
  } catch (const Error&) {
    configuration_error(*engine_);
  }
  return *this;
}

Node& Node::on(std::string_view port, std::function<void(const Message&)> fn, OptionalPort) {
  if (!has_input(port)) return *this;
  return on(port, std::move(fn));
}

void Node::emit_raw(std::string_view port, std::span<const std::byte> payload,
                    std::string_view type, const EmitOptions& options) {
  const std::size_t out = output_index(port);
  const OutgoingEnvelope env = begin_emit(out, type, options);
  finish_emit(out, encoder().encode_raw(env, payload), options);
}

TimerId Node::every(std::chrono::milliseconds period, std::function<void()> fn) {
  return engine_->add_timer(period, period, true, std::move(fn));
}
TimerId Node::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  return engine_->add_timer(delay, std::chrono::milliseconds(0), false, std::move(fn));
}
void Node::cancel(TimerId id) {
  engine_->cancel_timer(id);
}
void Node::post(std::function<void()> fn) {
  engine_->post(std::move(fn));
}
WatchId Node::watch(int fd, short events, std::function<void(short)> fn) {
  return engine_->watch_fd(fd, events, std::move(fn));
}
WatchId Node::watch_socket(void* zmq_socket, short events, std::function<void(short)> fn) {
  return engine_->watch_socket(zmq_socket, events, std::move(fn));
}
void Node::unwatch(WatchId id) {
  engine_->unwatch(id);
}
Counter Node::counter(std::string_view name) {
  try {
    return engine_->user_counter(name);
  } catch (const Error&) {
    configuration_error(*engine_);
  }
}
Gauge Node::gauge(std::string_view name) {
  try {
    return engine_->user_gauge(name);
  } catch (const Error&) {
    configuration_error(*engine_);
  }
}
void Node::on_ready(std::function<void()> fn) {
  engine_->add_on_ready(std::move(fn));
}
void Node::on_stop(std::function<void()> fn) {
  engine_->add_on_stop(std::move(fn));
}
int Node::run() {
  // From here on a Node call that throws was made by a handler, timer or callback: the loop
  // counts and logs it. What escapes run() is found before the loop starts (an input without a
  // handler, run() twice).
  const bool exit_on_error = engine_->exits_on_configuration_error();
  engine_->mark_run_called();
  try {
    return engine_->run();
  } catch (const Error& e) {
    if (!exit_on_error) throw;
    exit_with(e);
  }
}
void Node::stop() noexcept {
  engine_->stop();
}

const Params& Node::params() const noexcept {
  return engine_->params();
}
const Topology& Node::topology() const noexcept {
  return engine_->topology();
}
const NodeSpec& Node::spec() const noexcept {
  return engine_->spec();
}
const std::string& Node::name() const noexcept {
  return engine_->name();
}
std::uint32_t Node::instance() const noexcept {
  return engine_->instance();
}
const std::string& Node::instance_name() const noexcept {
  return engine_->instance_name();
}
const std::string& Node::producer_id() const noexcept {
  return engine_->producer_id();
}
bool Node::ready() const noexcept {
  return engine_->ready();
}
const NodeCounters& Node::counters() const noexcept {
  return engine_->counters();
}

detail::StateTable& Node::state_table(std::string_view name) {
  return engine_->state_table(name);
}

Hold Node::hold() {
  const std::uint64_t token = engine_->hold_current();
  return Hold(engine_->hold_link(), token);
}

Hold::Hold(Hold&& other) noexcept
    : link_(std::move(other.link_)), token_(std::exchange(other.token_, 0)) {}

Hold& Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    give_back();
    link_ = std::move(other.link_);
    token_ = std::exchange(other.token_, 0);
  }
  return *this;
}

Hold::~Hold() {
  give_back();
}

void Hold::release() {
  const std::uint64_t token = std::exchange(token_, 0);
  if (token != 0 && link_ && link_->engine != nullptr) link_->engine->release_hold(token);
}

void Hold::give_back() {
  const std::uint64_t token = std::exchange(token_, 0);
  if (token == 0 || !link_ || link_->engine == nullptr) return;
  try {
    link_->engine->give_back_hold(token);
  } catch (const std::exception& e) {
    // From a destructor: the message stays unacknowledged with its producer either way.
    BROOK_LOG(kWarn) << "giving back a held message: " << e.what();
  }
}
bool Node::has_input(std::string_view port) const noexcept {
  return engine_->spec().input(port) != nullptr;
}
bool Node::has_output(std::string_view port) const noexcept {
  return engine_->spec().output(port) != nullptr;
}
std::size_t Node::output_index(std::string_view port) const {
  try {
    return engine_->output_index(port);
  } catch (const Error&) {
    configuration_error(*engine_);
  }
}
std::chrono::steady_clock::time_point Node::now() const {
  return engine_->now();
}
const OptionValues& Node::own_options() const noexcept {
  return engine_->own_options();
}
EnvelopeEncoder& Node::encoder() noexcept {
  return engine_->encoder();
}
OutgoingEnvelope Node::begin_emit(std::size_t output, std::string_view type, const EmitOptions& o) {
  return engine_->begin_emit(output, type, o);
}
void Node::finish_emit(std::size_t output, std::span<const std::byte> frame, const EmitOptions& o) {
  try {
    engine_->finish_emit(output, frame, o);
  } catch (const Error&) {
    // emit() before run() is a configuration error; once running, the caller's (backpressure).
    configuration_error(*engine_);
  }
}

OutgoingEnvelope Node::begin_request(std::string_view port, std::string_view type) {
  try {
    return engine_->begin_request(port, type);
  } catch (const Error&) {
    configuration_error(*engine_);
  }
}
void Node::finish_request(std::string_view port, std::span<const std::byte> frame,
                          std::optional<std::chrono::milliseconds> timeout, ReplyFn on_reply) {
  try {
    engine_->finish_request(port, frame, timeout, std::move(on_reply));
  } catch (const Error&) {
    configuration_error(*engine_);
  }
}
void Node::request_raw(std::string_view port, std::span<const std::byte> payload,
                       std::string_view type, std::optional<std::chrono::milliseconds> timeout,
                       std::function<void(const Message* reply, std::string_view error)> on_reply) {
  const OutgoingEnvelope env = begin_request(port, type);
  finish_request(port, encoder().encode_raw(env, payload), timeout, std::move(on_reply));
}
void Node::set_request_handler(std::string_view port, RequestFn fn) {
  try {
    engine_->set_request_handler(port, std::move(fn));
  } catch (const Error&) {
    configuration_error(*engine_);
  }
}

}  // namespace brook
