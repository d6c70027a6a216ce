// The resolved documents `brook up` hands its nodes (resolved_view.hpp): one file per instance,
// <node>.<instance>.json, in a private directory that lives as long as this object, so that
// neither a normal exit, Ctrl-C nor a failure leaves it behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace brook::launch {

class ResolvedFiles {
 public:
  // Creates the directory (mode 0700) under $TMPDIR, else /dev/shm (in memory) when this user
  // can write there, else /tmp. Throws brook::Error.
  ResolvedFiles();
  ~ResolvedFiles();
  ResolvedFiles(const ResolvedFiles&) = delete;
  ResolvedFiles& operator=(const ResolvedFiles&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path path(const std::string& node, std::uint32_t instance) const;
  // Writes the instance's document (compact, one line) and returns its absolute path.
  std::filesystem::path write(const std::string& node, std::uint32_t instance,
                              const nlohmann::json& doc) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace brook::launch
