#include "security/zap_handler.hpp"

#include <zmq.h>

#include <array>
#include <brook/log.hpp>

namespace brook {

namespace {

constexpr std::size_t kMaxZapFrames = 16;

ZapVerdict refuse(std::string code, std::string text) {
  return ZapVerdict{false, std::move(code), std::move(text), {}};
}

std::string z85_of(const std::string& binary) {
  if (binary.size() != 32) return "(" + std::to_string(binary.size()) + "-byte key)";
  std::array<char, 41> out{};
  zmq_z85_encode(out.data(), reinterpret_cast<const std::uint8_t*>(binary.data()), 32);
  return out.data();
}

}  // namespace

ZapVerdict judge(const ZapRequest& r, const Security& security) {
  if (r.version != "1.0") return refuse("500", "unsupported ZAP version");
  if (r.mechanism != "CURVE") return refuse("400", "mechanism " + r.mechanism + " is not allowed");
  if (r.credentials.size() != 1 || r.credentials[0].size() != 32) {
    return refuse("400", "malformed CURVE credentials");
  }
  auto name = security.name_of_key(r.credentials[0]);
  if (!name) return refuse("400", "key " + z85_of(r.credentials[0]) + " is not on the allowlist");
  return ZapVerdict{true, "200", "OK", *name};
}

ZapHandler::ZapHandler(zmq::context_t& context, const Security& security, RefusalFn on_refused)
    : security_(&security),
      on_refused_(std::move(on_refused)),
      socket_(context, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
}

void ZapHandler::process() {
  // Bounded: a flood of handshakes must not starve the loop's other sockets.
  for (int n = 0; n < 1000; ++n) {
    std::vector<std::string> frames;
    zmq::message_t part;
    if (!socket_.recv(part, zmq::recv_flags::dontwait)) return;
    frames.push_back(part.to_string());
    while (part.more()) {
      (void)socket_.recv(part, zmq::recv_flags::none);
      if (frames.size() < kMaxZapFrames) frames.push_back(part.to_string());
    }
    ZapRequest r;
    std::string* fields[] = {&r.version, &r.request_id, &r.domain,
                             &r.address, &r.routing_id, &r.mechanism};
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (i < std::size(fields)) {
        *fields[i] = std::move(frames[i]);
      } else {
        r.credentials.push_back(std::move(frames[i]));
      }
    }
    const ZapVerdict v = judge(r, *security_);
    if (v.allowed) {
      ++allowed_;
    } else {
      ++refused_;
      std::uint64_t suppressed = 0;
      if (refusal_log_.allow(suppressed)) {
        BROOK_LOG(kWarn) << "refused a connection from " << r.address << " to " << r.domain << ": "
                         << v.status_text << " (" << refused_ << " refused so far"
                         << (suppressed > 0 ? ", " + std::to_string(suppressed) + " not logged"
                                            : "")
                         << ")";
      }
      if (on_refused_) on_refused_(r, v);
    }
    // The reply: version, request id, status code, status text, user id, metadata.
    const std::array<std::string, 6> reply = {"1.0",         r.request_id, v.status_code,
                                              v.status_text, v.user_id,    ""};
    for (std::size_t i = 0; i < reply.size(); ++i) {
      (void)socket_.send(zmq::buffer(reply[i]),
                         i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

}  // namespace brook
