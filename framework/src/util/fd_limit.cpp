#include "util/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace brook::detail {

namespace {

std::uint64_t from_rlim(rlim_t v) noexcept {
  return v == RLIM_INFINITY ? std::numeric_limits<std::uint64_t>::max()
                            : static_cast<std::uint64_t>(v);
}

}  // namespace

FdLimit fd_limit() noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {};
  return {from_rlim(rl.rlim_cur), from_rlim(rl.rlim_max)};
}

FdLimit raise_fd_limit(std::uint64_t wanted) noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {};
  if (from_rlim(rl.rlim_cur) < wanted) {
    rlimit raised = rl;
    raised.rlim_cur = static_cast<rlim_t>(std::min(wanted, from_rlim(rl.rlim_max)));
    // Linux also caps it at fs.nr_open: a failure leaves the limit as it was.
    (void)::setrlimit(RLIMIT_NOFILE, &raised);
  }
  return fd_limit();
}

}  // namespace brook::detail
