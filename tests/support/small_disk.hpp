// Test support: a small file system (tmpfs) mounted for one test, to run nodes against a full
// disk. Needs the right to mount (root, or CAP_SYS_ADMIN); without it a test skips.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace brook::test {

class SmallDisk {
 public:
  // Mounts a tmpfs of `bytes` at `dir` (created). Null, with the reason in `why_not`, when this
  // process may not mount.
  static std::unique_ptr<SmallDisk> mount(const std::filesystem::path& dir, std::uint64_t bytes,
                                          std::string& why_not);
  ~SmallDisk();  // unmounts (lazily if a process still has files open there)
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::uint64_t free_bytes() const;
  // Writes `name` (in dir()) until the file system has no room left; returns its size.
  std::uint64_t fill(const std::string& name = "filler") const;
  // Removes what fill() wrote.
  void unfill(const std::string& name = "filler") const;

 private:
  explicit SmallDisk(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace brook::test
