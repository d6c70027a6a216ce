// What the test nodes write for the tests to count: brook-test-sink's journal ("source n seq key
// reason" per handled message) and files of one number per line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace brook::test {

struct Tally {
  std::uint64_t distinct = 0;    // n in [1, count] from `source`, each counted once
  std::uint64_t duplicates = 0;  // further lines of an n already counted
  std::uint64_t unexpected = 0;  // lines of another source or an n outside [1, count]
};

// Reads sink journals (read_report); n in [1, count] from `source` is expected.
Tally tally(const std::vector<std::filesystem::path>& journals, const std::string& source,
            std::uint64_t count);

// The numbers of a file holding whitespace-separated numbers.
std::set<std::uint64_t> read_numbers(const std::filesystem::path& file);

}  // namespace brook::test
