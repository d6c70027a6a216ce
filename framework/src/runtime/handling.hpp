// What becomes of a received message once its handler ran: the outcome of the call, whether and
// when a failed one is tried again, and the headers of a dead letter (docs/reliability.md).
// Plain logic shared by the node's event loop and brook::testing, so a unit test sees the same
// retries and dead letters as a running node.
#pragma once

#include <algorithm>
#include <brook/node.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brook::detail {

enum class HandlerResult {
  kOk,
  kUndecodable,  // a type the handler does not take, or a payload that does not convert to it
                 // (PayloadError): no retry can help
  kThrew,        // anything else the handler threw: retried by the channel's policy
  kDeclined,     // brook::Declined on a first attempt: the caller leaves an at-least-once
                 // message with its producer (no ack, not marked handled), and treats it as
                 // kThrew elsewhere
};

struct HandlerOutcome {
  HandlerResult result = HandlerResult::kOk;
  std::string error;  // what() of the exception
};

HandlerOutcome call_handler(const std::function<void(const Message&)>& handler, const Message& m);

// Delays between attempts of a failing handler: initial, then doubled up to max, each drawn in
// [delay/2, delay] so the retries of many messages that failed together spread out. A small
// xorshift generator: deterministic for a seed, no allocation, not for anything secret.
class RetryBackoff {
 public:
  explicit RetryBackoff(std::uint64_t seed = 0x9e3779b97f4a7c15ull) : state_(seed | 1) {}

  // After attempt `attempt` (1-based) failed: the wait before the next one, or nullopt when the
  // policy's max_attempts are used up.
  std::optional<std::chrono::milliseconds> next(const ChannelSpec::Retry& policy,
                                                std::uint32_t attempt);

 private:
  std::uint64_t state_;
};

// Sequence numbers an at-least-once input remembers per producer for de-duplication: twice the
// producer's in-flight window, so anything it may still re-send is recognised.
inline std::size_t dedupe_window_size(const ChannelSpec& c) {
  return std::max<std::size_t>(65536, 2 * c.window);
}

// A dead letter's headers: the original message's, then dead-letter-error (at most 1 KiB),
// -attempts, -node, -channel, -producer and -seq.
std::vector<std::pair<std::string, std::string>> dead_letter_headers(const EnvelopeView& env,
                                                                     std::string_view error,
                                                                     std::uint32_t attempts,
                                                                     std::string_view node);

}  // namespace brook::detail
