// Shared by the tests of the shop's services on brook::testing (shop_nodes_test.cpp,
// shop_sources_test.cpp): the shop's topologies, and small builders.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <brook/testing.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "shop_types.hpp"

namespace brook::shop::test {

using namespace std::chrono_literals;
using brook::testing::Outcome;
using brook::testing::SendOptions;
using brook::testing::TestNode;
using brook::testing::TestOptions;

inline const std::filesystem::path kTopologies =
    std::filesystem::path(BROOK_SOURCE_DIR) / "topologies";
inline const std::filesystem::path kShop = kTopologies / "shop.yaml";
inline const std::filesystem::path kScaled = kTopologies / "shop-scaled.yaml";

inline TestOptions quiet() {
  return TestOptions().with_log_level(LogLevel::kOff);
}

inline Catalog shop_catalog() {
  return load_catalog(kTopologies / "data" / "catalog.csv");
}

inline CartEvent cart(std::string id, std::string op, std::string sku = "", std::int32_t qty = 0) {
  CartEvent e;
  e.basket_id = std::move(id);
  e.op = std::move(op);
  e.sku = std::move(sku);
  e.qty = qty;
  return e;
}

inline std::vector<std::string> read_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// A fresh directory per test for SQLite files and manifests.
class WithTempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brook-shop-nodes-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

}  // namespace brook::shop::test
