// Report: comparing the manifest with what the order store recorded.
#include "report_logic.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace brook::shop {
namespace {

class ShopReport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brook-report-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "shop.db").string();
    store_ = std::make_unique<OrderStore>(db_, "order.0");
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Records a correct order for `lines` (sent at `sent`, persisted at `done`).
  void order(const std::string& id, std::vector<ResolvedLine> lines, std::uint64_t sent,
             std::uint64_t done) {
    store_->record_basket(ResolvedBasket{id, lines, sent, ""}, done);
    Quote q = price(lines, PricingRules{});
    q.basket_id = id;
    store_->record_quote(q, done);
  }

  std::vector<ManifestEntry> manifest(const std::string& text) {
    const auto path = dir_ / "manifest.jsonl";
    std::ofstream(path) << text;
    return read_manifest(path);
  }

  std::filesystem::path dir_;
  std::string db_;
  std::unique_ptr<OrderStore> store_;
};

constexpr const char* kManifest =
    R"({"basket_id":"r-1","valid":true,"lines":[{"sku":"A","qty":2}],"reason":""})"
    "\n"
    R"({"basket_id":"r-2","valid":true,"lines":[{"sku":"B","qty":1}],"reason":""})"
    "\n"
    R"({"basket_id":"r-3","valid":false,"lines":[{"sku":"ZZ","qty":1}],"reason":"unknown SKU 'ZZ'"})"
    "\n";

TEST_F(ShopReport, AllAccountedForIsOk) {
  order("r-1", {{"A", "a", 2, 1000}}, 1'000'000'000, 1'010'000'000);
  order("r-2", {{"B", "b", 1, 500}}, 1'000'000'000, 1'030'000'000);
  store_->record_rejection(Rejection{"r-3", "ZZ", "unknown SKU 'ZZ'", "product.0", 1}, 2);
  OrderReader reader(db_);
  const ReportSummary s = build_report(manifest(kManifest), reader, PricingRules{});
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.baskets, 3u);
  EXPECT_EQ(s.valid, 2u);
  EXPECT_EQ(s.invalid, 1u);
  EXPECT_EQ(s.orders_complete, 2u);
  EXPECT_EQ(s.rejections, 1u);
  EXPECT_DOUBLE_EQ(s.latency_ms.max, 30.0);
  EXPECT_DOUBLE_EQ(s.latency_ms.p50, 10.0);
  EXPECT_NEAR(s.throughput_per_s, 2 / 0.03, 1e-6);
  const std::string json = report_json(s);
  EXPECT_NE(json.find(R"("orders_complete":2)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("ok":true)"), std::string::npos) << json;
  EXPECT_NE(report_table(s).find("OK"), std::string::npos);
}

TEST_F(ShopReport, FindsMissingWrongIncompleteAndUnrejected) {
  order("r-1", {{"A", "a", 3, 1000}}, 1, 2);                                     // wrong qty
  store_->record_basket(ResolvedBasket{"r-2", {{"B", "b", 1, 500}}, 1, ""}, 2);  // no quote
  OrderReader reader(db_);
  ReportSummary s = build_report(manifest(kManifest), reader, PricingRules{});
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.orders_wrong, 1u);
  EXPECT_EQ(s.orders_incomplete, 1u);
  EXPECT_EQ(s.invalid_without_rejection, 1u);
  EXPECT_EQ(s.problems, 3u);
  ASSERT_EQ(s.offenders.size(), 3u);
  EXPECT_EQ(s.offenders[0], "r-1: lines [Ax3], expected [Ax2]");
}

TEST_F(ShopReport, WrongTotalAndWronglyRejectedValidBasket) {
  store_->record_basket(ResolvedBasket{"r-1", {{"A", "a", 2, 1000}}, 1, ""}, 2);
  store_->record_quote(Quote{"r-1", 2000, 0, 400, 2401, 1, ""}, 2);  // one cent too much
  store_->record_rejection(Rejection{"r-2", "B", "SKU 'B' qty 1 exceeds stock 0", "p", 1}, 2);
  store_->record_rejection(Rejection{"r-3", "ZZ", "unknown SKU 'ZZ'", "p", 1}, 2);
  OrderReader reader(db_);
  const ReportSummary s = build_report(manifest(kManifest), reader, PricingRules{});
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.orders_wrong, 1u);
  EXPECT_EQ(s.valid_rejected, 1u);
  EXPECT_EQ(s.orders_missing, 1u);
  EXPECT_EQ(s.offenders.at(0), "r-1: total 2401, expected 2400");
}

TEST_F(ShopReport, ManifestErrorsNameTheLine) {
  EXPECT_THROW(manifest("{\"basket_id\":\"a\",\"valid\":true,\"lines\":[]}\nnot json\n"), Error);
  try {
    manifest(std::string(kManifest) + R"({"basket_id":"r-1","valid":true,"lines":[]})" + "\n");
    ADD_FAILURE() << "a repeated basket must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.jsonl:4: basket 'r-1' listed twice"),
              std::string::npos)
        << e.what();
  }
}

TEST(ShopReportRules, PricingRulesComeFromTheTopology) {
  const Topology t = parse_topology(
      "topology: t\nchannels: {}\nnodes:\n"
      "  quoting: {exec: /x/brook-shop-pricing, params: {tax_bp: 1000}}\n",
      "t.yaml");
  EXPECT_EQ(pricing_rules_of(t).tax_bp, 1000);
  EXPECT_THROW(pricing_rules_of(parse_topology("topology: t\nchannels: {}\nnodes: {}\n", "t.yaml")),
               Error);
}

}  // namespace
}  // namespace brook::shop
