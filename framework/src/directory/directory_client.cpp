#include "directory/directory_client.hpp"

#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>

namespace brook {

DirectoryClient::DirectoryClient(std::string endpoint, std::chrono::milliseconds timeout,
                                 Security security)
    : DirectoryClient(std::vector<std::string>{std::move(endpoint)}, timeout, std::move(security)) {
}

DirectoryClient::DirectoryClient(std::vector<std::string> endpoints,
                                 std::chrono::milliseconds timeout, Security security)
    : endpoints_(std::move(endpoints)), timeout_(timeout), security_(std::move(security)) {
  if (endpoints_.empty()) throw Error("DirectoryClient: no directory endpoint given");
  reconnect();
}

DirectoryClient::~DirectoryClient() = default;

void DirectoryClient::reconnect() {
  // A fresh socket per timeout: a late reply to an abandoned request must not be taken as the
  // answer to the next one.
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kMaxDirectoryFrame));
  security_.configure_client(*socket_, kDirectoryIdentity);
  socket_->connect(endpoint());
}

std::optional<DirectoryReplyBody> DirectoryClient::ask(const std::string& bytes, std::uint64_t id,
                                                       std::string& why) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const std::string ms = std::to_string(timeout_.count()) + " ms";
  auto fail = [&](const std::string& text) -> std::optional<DirectoryReplyBody> {
    reconnect();
    why = text;
    return std::nullopt;
  };
  zmq::pollitem_t out_item{socket_->handle(), 0, ZMQ_POLLOUT, 0};
  if (zmq::poll(&out_item, 1, timeout_) == 0) return fail("could not be sent within " + ms);
  (void)socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) {
      return fail("got no reply within " + ms);
    }
    zmq::message_t frame;
    if (!socket_->recv(frame, zmq::recv_flags::dontwait)) continue;
    DirectoryReply reply;
    const auto st = decode({static_cast<const std::byte*>(frame.data()), frame.size()}, reply);
    // A directory that answers garbage (another version, a hostile peer) is skipped like a
    // silent one: with redundant directories another may answer.
    if (!st) return fail("reply malformed: " + st.error);
    if (reply.id != id) continue;  // stale
    return std::move(reply.body);
  }
}

DirectoryReplyBody DirectoryClient::request(DirectoryRequestBody body) {
  const std::uint64_t id = next_id_++;
  const std::string op(op_name(body));
  const std::string bytes = encode(DirectoryRequest{id, std::move(body)});
  // The one that answered last first, then the others in the order given.
  const std::size_t first = current_;
  std::string why;
  std::string each;  // "EP: why; ..." for the error when none answers
  bool malformed = false;
  for (std::size_t k = 0; k <= endpoints_.size(); ++k) {
    const std::size_t next = k == 0 ? first : k - 1;
    if (k > 0 && next == first) continue;
    if (next != current_) {
      current_ = next;
      reconnect();
    }
    if (auto reply = ask(bytes, id, why)) return std::move(*reply);
    each += (each.empty() ? "" : "; ") + endpoint() + ": " + why;
    malformed = malformed || why.starts_with("reply malformed");
  }
  if (current_ != first) {
    current_ = first;
    reconnect();
  }
  const std::string hint = malformed ? "is each a brook-directory of this release?"
                                     : "is brook-directory running there?";
  if (endpoints_.size() == 1) {
    throw Error("directory " + endpoint() + ": " + op + " " + why + " (" + hint + ")");
  }
  std::string all;
  for (const auto& ep : endpoints_)
    all += (all.empty() ? "" : ", ") + ep;
  throw Error("directories " + all + ": " + op + " answered by none (" + each + "; " + hint + ")");
}

namespace {
template <class T>
T expect(DirectoryReplyBody body, const std::string& endpoint, const char* op) {
  if (auto* err = std::get_if<ErrorReply>(&body)) {
    throw Error("directory " + endpoint + " refused " + op + ": " +
                std::string(to_string(err->code)) + ": " + err->detail);
  }
  if (auto* r = std::get_if<T>(&body)) return std::move(*r);
  throw Error("directory " + endpoint + ": unexpected reply to " + op);
}
}  // namespace

HelloReply DirectoryClient::hello() {
  return expect<HelloReply>(request(HelloRequest{}), endpoint(), "hello");
}
ListReply DirectoryClient::list() {
  return expect<ListReply>(request(ListRequest{}), endpoint(), "list");
}
EntriesReply DirectoryClient::snapshot(const std::string& topology) {
  return expect<EntriesReply>(request(SnapshotRequest{{}, topology}), endpoint(), "snapshot");
}
EntriesReply DirectoryClient::resolve(const std::string& channel,
                                      const std::optional<std::string>& topology) {
  if (topology) {
    return expect<EntriesReply>(request(ResolveRequest{channel, *topology}), endpoint(), "resolve");
  }
  ListReply all = list();
  EntriesReply r{all.state, {}, {}};
  for (auto& inst : all.instances) {
    for (auto& reg : inst.registrations) {
      if (reg.channel != channel) continue;
      r.entries.push_back(
          DirectoryEntry{inst.node, inst.instance, inst.incarnation, reg, inst.topology});
    }
  }
  return r;
}

}  // namespace brook
