#include "support/journals.hpp"

#include <fstream>

#include "support/cluster.hpp"

namespace brook::test {

Tally tally(const std::vector<std::filesystem::path>& journals, const std::string& source,
            std::uint64_t count) {
  std::vector<std::uint8_t> seen(count + 1, 0);
  Tally t;
  for (const auto& j : journals) {
    for (const Received& m : read_report(j).messages) {
      if (m.source != source || m.n == 0 || m.n > count) {
        ++t.unexpected;
      } else if (seen[m.n]++ > 0) {
        ++t.duplicates;
      } else {
        ++t.distinct;
      }
    }
  }
  return t;
}

std::set<std::uint64_t> read_numbers(const std::filesystem::path& file) {
  std::set<std::uint64_t> out;
  std::ifstream f(file);
  for (std::uint64_t n = 0; f >> n;)
    out.insert(n);
  return out;
}

}  // namespace brook::test
