// The ZAP handler (ZeroMQ RFC 27) that decides who may complete a CURVE handshake with this
// process's server sockets: keys on the allowlist get in, under their allowlist name as the
// connection's User-Id; everyone else is refused, counted and logged with their address.
//
// Ownership: owns a REP socket bound to inproc://zeromq.zap.01 in `context`; construct it before
// any CURVE server socket binds and keep it alive as long as they are. Not thread-safe: the
// thread that polls socket() calls process(). process() never blocks. `security` must outlive it.
#pragma once

#include <brook/log.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "security/security.hpp"

namespace brook {

struct ZapRequest {
  std::string version;
  std::string request_id;
  std::string domain;   // the channel name of an input, or "directory"
  std::string address;  // the peer's IP address
  std::string routing_id;
  std::string mechanism;                 // "CURVE" for brook peers
  std::vector<std::string> credentials;  // CURVE: the client's 32-byte public key
};

struct ZapVerdict {
  bool allowed = false;
  std::string status_code;  // "200", "400" or "500"
  std::string status_text;
  std::string user_id;  // the allowlist name when allowed
};

// The decision, without sockets.
ZapVerdict judge(const ZapRequest& request, const Security& security);

class ZapHandler {
 public:
  using RefusalFn = std::function<void(const ZapRequest&, const ZapVerdict&)>;
  // `on_refused` runs on the polling thread for each refusal (after it was counted and logged).
  ZapHandler(zmq::context_t& context, const Security& security, RefusalFn on_refused = {});
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  zmq::socket_t& socket() noexcept { return socket_; }
  // Answers every queued request.
  void process();

  std::uint64_t allowed() const noexcept { return allowed_; }
  std::uint64_t refused() const noexcept { return refused_; }

 private:
  const Security* security_;
  RefusalFn on_refused_;
  zmq::socket_t socket_;
  LogRateLimiter refusal_log_;
  std::uint64_t allowed_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace brook
