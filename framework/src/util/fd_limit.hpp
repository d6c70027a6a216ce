// The open-file limit of processes that hold a descriptor per peer: `brook up` (three pipes per
// child, a fourth with a run directory's logs) and the directory (a connection or two per node).
// Linux's usual soft limit, 1024, is far below what a thousand nodes take; the hard limit is
// usually much higher, and a process may raise its soft limit up to it.
#pragma once

#include <cstdint>

namespace brook::detail {

struct FdLimit {
  std::uint64_t soft = 0;  // UINT64_MAX: unlimited
  std::uint64_t hard = 0;
};

// The limits in force (both 0 when they cannot be read).
FdLimit fd_limit() noexcept;

// Raises the soft limit to `wanted` when below it, up to the hard limit; returns the limits in
// force afterwards. Never lowers it.
FdLimit raise_fd_limit(std::uint64_t wanted) noexcept;

}  // namespace brook::detail
