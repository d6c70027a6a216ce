// brook::Params: typed, dotted access to a node's params with errors that point into the file.
#include <gtest/gtest.h>

#include <brook/params.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

using std::chrono::milliseconds;

// Line numbers below refer to this text.
constexpr const char* kParams =
    "rate: 5\n"             // 1
    "ratio: 0.25\n"         // 2
    "name: eu-west\n"       // 3
    "enabled: true\n"       // 4
    "tags: [a, b]\n"        // 5
    "sizes: [1, 2, 3]\n"    // 6
    "timeout: 250ms\n"      // 7
    "tax:\n"                // 8
    "  rate: abc\n"         // 9
    "  region: eu\n"        // 10
    "  levels: {low: 1}\n"  // 11
    "nothing:\n"            // 12
    "slow: soon\n";         // 13

Params sample() {
  return Params(YAML::Load(kParams), "shop.yaml: nodes.pricing.params", "shop.yaml");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(Params, TypedGets) {
  const Params p = sample();
  EXPECT_EQ(p.get<int>("rate"), 5);
  EXPECT_EQ(p.get<long long>("rate"), 5);
  EXPECT_EQ(p.get<unsigned>("rate"), 5u);
  EXPECT_DOUBLE_EQ(p.get<double>("ratio"), 0.25);
  EXPECT_DOUBLE_EQ(p.get<double>("rate"), 5.0);
  EXPECT_EQ(p.get<std::string>("name"), "eu-west");
  EXPECT_TRUE(p.get<bool>("enabled"));
  EXPECT_EQ(p.get<std::vector<std::string>>("tags"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.get<std::vector<int>>("sizes"), (std::vector<int>{1, 2, 3}));
}

TEST(Params, DottedKeysReachIntoNestedMaps) {
  const Params p = sample();
  EXPECT_EQ(p.get<std::string>("tax.region"), "eu");
  EXPECT_EQ(p.get<int>("tax.levels.low"), 1);
  EXPECT_TRUE(p.has("tax.levels"));
  EXPECT_FALSE(p.has("tax.levels.high"));
  EXPECT_FALSE(p.has("rate.x")) << "a scalar has no children";
  EXPECT_FALSE(p.has(""));
}

TEST(Params, MissingParamNamesTheOrigin) {
  const Params p = sample();
  EXPECT_EQ(error_of([&] { p.get<double>("tax.vat"); }),
            "shop.yaml: nodes.pricing.params: missing param 'tax.vat'");
  EXPECT_EQ(error_of([&] { p.get<int>("nothing"); }),
            "shop.yaml: nodes.pricing.params: missing param 'nothing'")
      << "an empty value counts as absent";
}

TEST(Params, BadTypeNamesTheFileLineAndColumn) {
  const Params p = sample();
  EXPECT_EQ(error_of([&] { p.get<double>("tax.rate"); }),
            "shop.yaml:9:9: param 'tax.rate': expected a number, got 'abc'");
  EXPECT_EQ(error_of([&] { p.get<int>("ratio"); }),
            "shop.yaml:2:8: param 'ratio': expected an integer, got '0.25'");
  EXPECT_EQ(error_of([&] { p.get<bool>("name"); }),
            "shop.yaml:3:7: param 'name': expected true or false, got 'eu-west'");
  EXPECT_EQ(error_of([&] { p.get<std::string>("tags"); }),
            "shop.yaml:5:7: param 'tags': expected a string, got a list");
  EXPECT_EQ(error_of([&] { p.get<unsigned long>("tax"); }),
            "shop.yaml:9:3: param 'tax': expected a non-negative integer, got a map");
}

TEST(Params, Durations) {
  const Params p = sample();
  EXPECT_EQ(p.get<milliseconds>("timeout"), milliseconds(250));
  EXPECT_EQ(p.get<milliseconds>("rate"), milliseconds(5)) << "a bare number is milliseconds";
  EXPECT_EQ(error_of([&] { p.get<milliseconds>("slow"); }),
            "shop.yaml:13:7: param 'slow': expected a duration like 250ms or 2s, got 'soon'");
  EXPECT_EQ(p.get<milliseconds>("retry", milliseconds(2000)), milliseconds(2000));
}

TEST(Params, FallbackOnlyWhenAbsent) {
  const Params p = sample();
  EXPECT_EQ(p.get<int>("missing", 7), 7);
  EXPECT_EQ(p.get<int>("rate", 7), 5);
  EXPECT_EQ(p.get<std::string>("nothing", "dflt"), "dflt");
  EXPECT_EQ(p.get<std::string>("tax.zone", "z"), "z");
  EXPECT_THROW(p.get<int>("tax.rate", 1), ConfigError) << "a bad value is not silently replaced";
}

TEST(Params, SubReturnsANestedMap) {
  const Params tax = sample().sub("tax");
  EXPECT_EQ(tax.get<std::string>("region"), "eu");
  EXPECT_EQ(tax.get<int>("levels.low"), 1);
  EXPECT_EQ(error_of([&] { tax.get<int>("vat"); }),
            "shop.yaml: nodes.pricing.params.tax: missing param 'vat'");
  EXPECT_EQ(error_of([&] { tax.get<double>("rate"); }),
            "shop.yaml:9:9: param 'rate': expected a number, got 'abc'");
  const Params none = sample().sub("absent");
  EXPECT_FALSE(none.has("x"));
  EXPECT_EQ(none.get<int>("x", 3), 3);
  EXPECT_EQ(error_of([&] { sample().sub("rate"); }),
            "shop.yaml:1:7: param 'rate': expected a map, got '5'");
  EXPECT_TRUE(sample().yaml().IsMap());
}

TEST(Params, DefaultConstructedIsEmpty) {
  const Params p;
  EXPECT_FALSE(p.has("x"));
  EXPECT_EQ(p.get<int>("x", 1), 1);
  EXPECT_THROW(p.get<int>("x"), ConfigError);
}

TEST(Params, FromATopologyFileAndAnOverride) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.overrides = {"basket.params.limit=abc"};
  const std::string file =
      std::string(BROOK_SOURCE_DIR) + "/tests/fixtures/topology/good_shop.yaml";
  const Topology t = load_topology(file, o);
  const Params p(t.node("basket")->params, file + ": nodes.basket.params", file);
  EXPECT_DOUBLE_EQ(p.get<double>("tax.rate"), 0.2);
  EXPECT_EQ(p.get<int>("batch"), 10);
  EXPECT_EQ(error_of([&] { p.get<std::string>("tax"); }),
            file + ":31:9: param 'tax': expected a string, got a map");
  // A value from --set has no place in the file, so the error names the params' origin.
  EXPECT_EQ(error_of([&] { p.get<int>("limit"); }),
            file + ": nodes.basket.params: param 'limit': expected an integer, got 'abc'");
}

}  // namespace
}  // namespace brook
