#include "launch/resolved_files.hpp"

#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "cli_common.hpp"

namespace brook::launch {

namespace fs = std::filesystem;

namespace {

fs::path default_base() {
  // In memory: a topology of a thousand instances writes a thousand files at every start, ~1 ms
  // each on an ext4 /tmp, a few µs on tmpfs. Only where this user may create directories.
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return "/tmp";
}

}  // namespace

ResolvedFiles::ResolvedFiles() {
  const char* tmp = std::getenv("TMPDIR");
  fs::path base = tmp != nullptr && *tmp != '\0' ? fs::path(tmp) : default_base();
  std::error_code ec;
  base = fs::absolute(base, ec);
  std::string templ = (base / "brook-up-XXXXXX").string();
  // mkdtemp creates the directory with mode 0700: only this user reads the nodes' settings.
  if (::mkdtemp(templ.data()) == nullptr) {
    throw Error("cannot create a directory for the nodes' resolved settings in " + base.string() +
                ": " + std::strerror(errno) + " (set TMPDIR to a writable directory)");
  }
  dir_ = templ;
}

ResolvedFiles::~ResolvedFiles() {
  std::error_code ec;
  fs::remove_all(dir_, ec);  // nothing to do about a failure while exiting
}

fs::path ResolvedFiles::path(const std::string& node, std::uint32_t instance) const {
  return dir_ / (node + "." + std::to_string(instance) + ".json");
}

fs::path ResolvedFiles::write(const std::string& node, std::uint32_t instance,
                              const nlohmann::json& doc) const {
  const fs::path file = path(node, instance);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  cli::print_json(out, doc);  // byte for byte what `brook resolve --json` prints
  out.close();
  if (!out) {
    throw Error("cannot write " + file.string() + ": " + std::strerror(errno) + " (is " +
                dir_.parent_path().string() + " full?)");
  }
  return file;
}

}  // namespace brook::launch
