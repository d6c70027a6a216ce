#include "runtime/accept_guard.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace brook::detail {

namespace {
// Listening this long without a failure ends a run of failures: the backoff starts over.
constexpr auto kCalmAfter = std::chrono::seconds(10);

bool out_of_resources(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

std::string open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return "";
  return " (the open-file limit, ulimit -n, is " + std::to_string(rl.rlim_cur) + ")";
}

std::string suppressed_note(std::uint64_t suppressed) {
  return suppressed > 0 ? "; " + std::to_string(suppressed) + " similar lines not logged" : "";
}
}  // namespace

AcceptGuard::AcceptGuard(zmq::socket_t& socket, std::string what, std::uint64_t& failures)
    : socket_(&socket),
      what_(std::move(what)),
      failures_(&failures),
      failed_log_(std::chrono::seconds(10)),
      rebind_log_(std::chrono::seconds(10)) {}

void AcceptGuard::bound(const std::string& endpoint) {
  endpoint_ = endpoint;
  listening_ = true;
  listening_since_ = Clock::now();
}

void AcceptGuard::accept_failed(int error, Clock::time_point now) {
  ++*failures_;
  // Other errors (a peer that reset before accept) do not repeat; events queued before the
  // unbind are counted only.
  if (!out_of_resources(error) || !listening_) return;
  if (now - listening_since_ >= kCalmAfter) backoff_ = kMinBackoff;
  try {
    socket_->unbind(endpoint_);
  } catch (const zmq::error_t& e) {
    BROOK_LOG(kWarn) << what_ << ": cannot stop listening at " << endpoint_ << ": " << e.what();
    return;
  }
  listening_ = false;
  const auto pause = backoff_;
  rebind_at_ = now + pause;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);  // for the next failure in a row
  std::uint64_t suppressed = 0;
  if (failed_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << what_ << " cannot accept connections at " << endpoint_ << ": "
                     << std::strerror(error) << open_file_limit() << "; not listening for "
                     << pause.count() << " ms, which closes its connections (peers reconnect); "
                     << *failures_
                     << " accept failures so far. Raise the limit (ulimit -n, systemd "
                        "LimitNOFILE=) or find what holds so many connections"
                     << suppressed_note(suppressed);
  }
}

void AcceptGuard::tick(Clock::time_point now) {
  if (listening_ || now < rebind_at_) return;
  try {
    socket_->bind(endpoint_);
  } catch (const zmq::error_t& e) {
    const auto pause = backoff_;
    rebind_at_ = now + pause;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    std::uint64_t suppressed = 0;
    if (rebind_log_.allow(suppressed)) {
      BROOK_LOG(kWarn) << what_ << " cannot listen at " << endpoint_ << " again: " << e.what()
                       << "; retrying in " << pause.count() << " ms" << suppressed_note(suppressed);
    }
    return;
  }
  listening_ = true;
  listening_since_ = now;
  rebind_at_ = Clock::time_point::max();
  std::uint64_t suppressed = 0;
  if (rebind_log_.allow(suppressed)) {
    BROOK_LOG(kInfo) << what_ << " listening at " << endpoint_ << " again"
                     << suppressed_note(suppressed);
  }
}

}  // namespace brook::detail
