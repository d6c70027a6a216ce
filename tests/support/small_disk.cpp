#include "support/small_disk.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace brook::test {

std::unique_ptr<SmallDisk> SmallDisk::mount(const std::filesystem::path& dir, std::uint64_t bytes,
                                            std::string& why_not) {
  std::filesystem::create_directories(dir);
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    why_not = "cannot mount a " + std::to_string(bytes) + "-byte tmpfs at " + dir.string() + ": " +
              std::strerror(errno) + " (the test needs root or CAP_SYS_ADMIN)";
    return nullptr;
  }
  return std::unique_ptr<SmallDisk>(new SmallDisk(dir));
}

SmallDisk::~SmallDisk() {
  if (::umount2(dir_.c_str(), 0) != 0) (void)::umount2(dir_.c_str(), MNT_DETACH);
}

std::uint64_t SmallDisk::free_bytes() const {
  struct statvfs st {};
  if (::statvfs(dir_.c_str(), &st) != 0) {
    throw std::runtime_error("statvfs " + dir_.string() + ": " + std::strerror(errno));
  }
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

std::uint64_t SmallDisk::fill(const std::string& name) const {
  const std::filesystem::path path = dir_ / name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path.string() + ": " + std::strerror(errno));
  const std::vector<char> chunk(64 * 1024, 'f');
  std::uint64_t written = 0;
  // Smaller writes once a chunk no longer fits, down to a byte: nothing is left after.
  for (std::size_t size = chunk.size(); size > 0;) {
    const ssize_t n = ::write(fd, chunk.data(), size);
    if (n > 0) {
      written += static_cast<std::uint64_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n == 0 || errno == ENOSPC) {
      size /= 2;
    } else {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("write " + path.string() + ": " + std::strerror(err));
    }
  }
  ::close(fd);
  return written;
}

void SmallDisk::unfill(const std::string& name) const {
  std::filesystem::remove(dir_ / name);
}

}  // namespace brook::test
