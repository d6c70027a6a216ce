#include "runtime/handling.hpp"

#include <algorithm>

namespace brook::detail {

HandlerOutcome call_handler(const std::function<void(const Message&)>& handler, const Message& m) {
  try {
    handler(m);
  } catch (const PayloadError& e) {
    return {HandlerResult::kUndecodable, e.what()};
  } catch (const Declined& e) {
    // A retry already owns the message (remembered as handled meanwhile): it cannot go back.
    return {m.attempt() > 1 ? HandlerResult::kThrew : HandlerResult::kDeclined, e.what()};
  } catch (const BackpressureError& e) {
    // An emit() (or a state write) found no room downstream: a handler that lets that escape
    // cannot take the message now, which is declining it. As a failure it would be dead-lettered
    // or dropped for a condition that passes (a consumer restarting).
    return {m.attempt() > 1 ? HandlerResult::kThrew : HandlerResult::kDeclined, e.what()};
  } catch (const std::exception& e) {
    return {HandlerResult::kThrew, e.what()};
  }
  return {};
}

std::optional<std::chrono::milliseconds> RetryBackoff::next(const ChannelSpec::Retry& policy,
                                                            std::uint32_t attempt) {
  if (static_cast<std::int64_t>(attempt) >= policy.max_attempts) return std::nullopt;
  auto delay = policy.initial;
  for (std::uint32_t i = 1; i < attempt && delay < policy.max; ++i)
    delay *= 2;
  delay = std::min(delay, policy.max);
  state_ ^= state_ << 13;
  state_ ^= state_ >> 7;
  state_ ^= state_ << 17;
  const auto half = delay.count() / 2;
  return std::chrono::milliseconds(
      half + static_cast<long>(state_ % static_cast<std::uint64_t>(delay.count() - half + 1)));
}

std::vector<std::pair<std::string, std::string>> dead_letter_headers(const EnvelopeView& env,
                                                                     std::string_view error,
                                                                     std::uint32_t attempts,
                                                                     std::string_view node) {
  std::vector<std::pair<std::string, std::string>> h;
  env.for_each_header([&](std::string_view k, std::string_view v) {
    h.emplace_back(std::string(k), std::string(v));
  });
  h.emplace_back("dead-letter-error", std::string(error.substr(0, 1024)));
  h.emplace_back("dead-letter-attempts", std::to_string(attempts));
  h.emplace_back("dead-letter-node", std::string(node));
  h.emplace_back("dead-letter-channel", std::string(env.channel));
  h.emplace_back("dead-letter-producer", std::string(env.id.producer));
  h.emplace_back("dead-letter-seq", std::to_string(env.id.seq));
  return h;
}

}  // namespace brook::detail
