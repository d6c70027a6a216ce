// brook::Params: typed, dotted access to a node's params with errors that point into the file.
#include <gtest/gtest.h>

#include <brook/params.hpp>
#include <brook/topology.hpp>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "support/error_text.hpp"
#include "topology/params_yaml.hpp"

namespace brook {
namespace {

using std::chrono::milliseconds;

// The closed set of types: anything else is a compile error, not a run-time surprise.
template <class T>
concept Gettable = requires(const Params& p) {
  p.get<T>("x");
};
static_assert(Gettable<bool> && Gettable<int> && Gettable<long> && Gettable<long long>);
static_assert(Gettable<unsigned> && Gettable<unsigned long> && Gettable<unsigned long long>);
static_assert(Gettable<std::int32_t> && Gettable<std::int64_t> && Gettable<std::uint32_t> &&
              Gettable<std::uint64_t> && Gettable<std::size_t>);
static_assert(Gettable<double> && Gettable<std::string> && Gettable<milliseconds>);
static_assert(Gettable<std::vector<std::uint64_t>> && Gettable<std::vector<milliseconds>>);
static_assert(!Gettable<float> && !Gettable<char> && !Gettable<short> && !Gettable<const char*>);
static_assert(!Gettable<std::vector<std::vector<int>>> && !Gettable<std::chrono::seconds>);

// Line numbers below refer to this text.
constexpr const char* kParams =
    "rate: 5\n"                          // 1
    "ratio: 0.25\n"                      // 2
    "name: eu-west\n"                    // 3
    "enabled: true\n"                    // 4
    "tags: [a, b]\n"                     // 5
    "sizes: [1, 2, 3]\n"                 // 6
    "timeout: 250ms\n"                   // 7
    "tax:\n"                             // 8
    "  rate: abc\n"                      // 9
    "  region: eu\n"                     // 10
    "  levels: {low: 1}\n"               // 11
    "nothing:\n"                         // 12
    "slow: soon\n"                       // 13
    "negative: -1\n"                     // 14
    "big: 5000000000\n"                  // 15
    "huge: 99999999999999999999\n"       // 16
    "mixed: [1, -2, x]\n"                // 17
    "flags: [true, false, yes]\n"        // 18
    "ratios: [0.5, 2]\n"                 // 19
    "waits: [250ms, 2s, 7]\n"            // 20
    "updates:\n"                         // 21
    "  - {sku: A, unit_cents: 100}\n"    // 22
    "  - {sku: B}\n"                     // 23
    "  - {sku: C, unit_cents: lots}\n"   // 24
    "  - just-a-string\n"                // 25
    "none: []\n"                         // 26
    "large: 18446744073709551615\n"      // 27
    "smallest: -9223372036854775808\n";  // 28

Params sample() {
  return detail::make_params(YAML::Load(kParams), "shop.yaml: nodes.pricing.params", "shop.yaml");
}

std::string error_of(const std::function<void()>& f) {
  return test::error_of<ConfigError>(f);
}

TEST(Params, TypedGets) {
  const Params p = sample();
  EXPECT_EQ(p.get<int>("rate"), 5);
  EXPECT_EQ(p.get<long long>("rate"), 5);
  EXPECT_EQ(p.get<unsigned>("rate"), 5u);
  EXPECT_DOUBLE_EQ(p.get<double>("ratio"), 0.25);
  EXPECT_DOUBLE_EQ(p.get<double>("rate"), 5.0);
  EXPECT_EQ(p.get<std::string>("name"), "eu-west");
  EXPECT_EQ(p.get<std::string>("rate"), "5") << "a number is also a string";
  EXPECT_TRUE(p.get<bool>("enabled"));
  EXPECT_EQ(p.get<std::vector<std::string>>("tags"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.get<std::vector<int>>("sizes"), (std::vector<int>{1, 2, 3}));
}

TEST(Params, EveryIntegerType) {
  const Params p = sample();
  EXPECT_EQ(p.get<long>("rate"), 5);
  EXPECT_EQ(p.get<unsigned long>("rate"), 5u);
  EXPECT_EQ(p.get<unsigned long long>("rate"), 5u);
  EXPECT_EQ(p.get<std::int32_t>("negative"), -1);
  EXPECT_EQ(p.get<std::int64_t>("big"), 5'000'000'000);
  EXPECT_EQ(p.get<std::uint32_t>("rate"), 5u);
  EXPECT_EQ(p.get<std::uint64_t>("large"), UINT64_MAX);
  EXPECT_EQ(p.get<std::size_t>("rate"), 5u);
  EXPECT_EQ(p.get<std::int64_t>("smallest"), INT64_MIN);
  EXPECT_EQ(p.get<std::vector<std::uint64_t>>("sizes"), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(p.get<std::vector<long>>("sizes"), (std::vector<long>{1, 2, 3}));
}

TEST(Params, NegativeValuesForUnsignedTypesAreErrors) {
  const Params p = sample();
  const std::string want =
      "shop.yaml:14:11: param 'negative': expected a non-negative integer, got '-1'";
  EXPECT_EQ(error_of([&] { p.get<unsigned>("negative"); }), want);
  EXPECT_EQ(error_of([&] { p.get<unsigned long>("negative"); }), want);
  EXPECT_EQ(error_of([&] { p.get<unsigned long long>("negative"); }), want);
  EXPECT_EQ(error_of([&] { p.get<std::uint64_t>("negative", 3); }), want)
      << "a bad value is not replaced by the fallback";
  EXPECT_EQ(error_of([&] { p.get<std::vector<std::uint32_t>>("mixed"); }),
            "shop.yaml:17:12: param 'mixed[1]': expected a non-negative integer, got '-2'");
}

TEST(Params, OutOfRangeIntegersSayTheRange) {
  const Params p = sample();
  EXPECT_EQ(error_of([&] { p.get<int>("big"); }),
            "shop.yaml:15:6: param 'big': expected an integer from -2147483648 to 2147483647, "
            "got '5000000000'");
  EXPECT_EQ(error_of([&] { p.get<std::uint32_t>("big"); }),
            "shop.yaml:15:6: param 'big': expected an integer from 0 to 4294967295, got "
            "'5000000000'");
  EXPECT_EQ(error_of([&] { p.get<std::uint64_t>("huge"); }),
            "shop.yaml:16:7: param 'huge': expected an integer from 0 to 18446744073709551615, "
            "got '99999999999999999999'");
  EXPECT_EQ(error_of([&] { p.get<std::int64_t>("large"); }),
            "shop.yaml:27:8: param 'large': expected an integer from -9223372036854775808 to "
            "9223372036854775807, got '18446744073709551615'");
}

TEST(Params, Lists) {
  const Params p = sample();
  EXPECT_EQ(p.get<std::vector<bool>>("flags"), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(p.get<std::vector<double>>("ratios"), (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(p.get<std::vector<milliseconds>>("waits"),
            (std::vector<milliseconds>{milliseconds(250), milliseconds(2000), milliseconds(7)}));
  EXPECT_EQ(p.get<std::vector<std::string>>("sizes"), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_TRUE(p.get<std::vector<int>>("none").empty());
  EXPECT_EQ(p.get<std::vector<int>>("absent", {4, 5}), (std::vector<int>{4, 5}));
  EXPECT_EQ(error_of([&] { p.get<std::vector<int>>("mixed"); }),
            "shop.yaml:17:16: param 'mixed[2]': expected an integer, got 'x'")
      << "the bad element, not the whole list";
  EXPECT_EQ(error_of([&] { p.get<std::vector<int>>("rate"); }),
            "shop.yaml:1:7: param 'rate': expected a list of integers, got '5'");
  EXPECT_EQ(error_of([&] { p.get<std::vector<std::string>>("tax"); }),
            "shop.yaml:9:3: param 'tax': expected a list of strings, got a map");
  EXPECT_EQ(error_of([&] { p.get<std::vector<milliseconds>>("tags"); }),
            "shop.yaml:5:8: param 'tags[0]': expected a duration like 250ms or 2s, got 'a'");
  EXPECT_EQ(error_of([&] { p.get<std::vector<bool>>("sizes"); }),
            "shop.yaml:6:9: param 'sizes[0]': expected true or false, got '1'");
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
  EXPECT_EQ(error_of([&] { p.get<std::vector<int>>("counts"); }),
            "shop.yaml: nodes.pricing.params: missing param 'counts'");
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
  EXPECT_EQ(tax.origin(), "shop.yaml: nodes.pricing.params.tax");
  EXPECT_EQ(error_of([&] { tax.get<int>("vat"); }),
            "shop.yaml: nodes.pricing.params.tax: missing param 'vat'");
  EXPECT_EQ(error_of([&] { tax.get<double>("rate"); }),
            "shop.yaml:9:9: param 'rate': expected a number, got 'abc'");
  const Params none = sample().sub("absent");
  EXPECT_FALSE(none.has("x"));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.get<int>("x", 3), 3);
  EXPECT_EQ(error_of([&] { none.get<int>("x"); }),
            "shop.yaml: nodes.pricing.params.absent: missing param 'x'");
  EXPECT_EQ(error_of([&] { sample().sub("rate"); }),
            "shop.yaml:1:7: param 'rate': expected a map, got '5'");
}

TEST(Params, ListElementsNameTheirPlace) {
  const Params p = sample();
  EXPECT_EQ(error_of([&] { p.list("updates"); }),
            "shop.yaml:25:5: param 'updates[3]': expected a map, got 'just-a-string'");
  const Params good = detail::make_params(YAML::Load("updates: [{sku: A, unit_cents: 100}, "
                                                     "{sku: B}, {sku: C, unit_cents: lots}]"),
                                          "shop.yaml: nodes.catalog.params", "shop.yaml");
  const std::vector<Params> items = good.list("updates");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].get<std::string>("sku"), "A");
  EXPECT_EQ(items[0].get<std::int64_t>("unit_cents"), 100);
  EXPECT_EQ(items[1].origin(), "shop.yaml: nodes.catalog.params.updates[1]");
  EXPECT_EQ(error_of([&] { items[1].get<std::int64_t>("unit_cents"); }),
            "shop.yaml: nodes.catalog.params.updates[1]: missing param 'unit_cents'");
  EXPECT_EQ(error_of([&] { items[2].get<std::int64_t>("unit_cents"); }),
            "shop.yaml:1:69: param 'unit_cents': expected an integer, got 'lots'");
  EXPECT_TRUE(good.list("absent").empty());
  EXPECT_TRUE(p.list("none").empty());
  EXPECT_TRUE(p.list("nothing").empty()) << "an empty value counts as absent";
  EXPECT_EQ(error_of([&] { p.list("tax"); }),
            "shop.yaml:9:3: param 'tax': expected a list of maps, got a map");
  EXPECT_EQ(error_of([&] { p.list("sizes"); }),
            "shop.yaml:6:9: param 'sizes[0]': expected a map, got '1'");
}

TEST(Params, KeysInFileOrder) {
  const Params p = sample();
  EXPECT_EQ(p.keys(), (std::vector<std::string>{
                          "rate",   "ratio", "name",     "enabled", "tags",  "sizes",   "timeout",
                          "tax",    "slow",  "negative", "big",     "huge",  "mixed",   "flags",
                          "ratios", "waits", "updates",  "none",    "large", "smallest"}))
      << "'nothing' has no value, as for has()";
  EXPECT_EQ(p.sub("tax").keys(), (std::vector<std::string>{"rate", "region", "levels"}));
  const Params reversed = Params::parse("z: 1\ny: 2\nx: 3\n");
  EXPECT_EQ(reversed.keys(), (std::vector<std::string>{"z", "y", "x"})) << "not sorted";
  EXPECT_TRUE(Params().keys().empty());
  const Params repeated = Params::parse("a: 1\nb:\na: 2\nb: 3\n");
  EXPECT_EQ(repeated.keys(), std::vector<std::string>{"a"})
      << "a repeated key counts once, as get() reads it: the first";
  EXPECT_EQ(repeated.get<int>("a"), 1);
  EXPECT_FALSE(repeated.has("b"));
}

TEST(Params, Empty) {
  EXPECT_TRUE(Params().empty());
  EXPECT_TRUE(Params::parse("").empty());
  EXPECT_TRUE(Params::parse("{}").empty());
  EXPECT_TRUE(Params::parse("a:\nb: ~\n").empty()) << "keys without a value are absent";
  EXPECT_FALSE(Params::parse("a: 0").empty());
  EXPECT_FALSE(sample().empty());
}

TEST(Params, DefaultConstructedIsEmpty) {
  const Params p;
  EXPECT_FALSE(p.has("x"));
  EXPECT_EQ(p.get<int>("x", 1), 1);
  EXPECT_EQ(error_of([&] { p.get<int>("x"); }), "missing param 'x'");
  EXPECT_TRUE(p.list("x").empty());
  EXPECT_TRUE(p.sub("x").empty());
}

TEST(Params, ParseText) {
  const Params p = Params::parse("tax: {rate: 0.2}\ncount: x\n", "test.yaml");
  EXPECT_DOUBLE_EQ(p.get<double>("tax.rate"), 0.2);
  EXPECT_EQ(error_of([&] { p.get<int>("count"); }),
            "test.yaml:2:8: param 'count': expected an integer, got 'x'");
  EXPECT_EQ(error_of([&] { p.get<int>("size"); }), "test.yaml: missing param 'size'");
  EXPECT_EQ(error_of([&] { p.sub("tax").get<int>("vat"); }), "test.yaml: tax: missing param 'vat'");
  EXPECT_EQ(Params::parse("l: [{a: 1}]", "test.yaml").list("l").at(0).origin(), "test.yaml: l[0]");
  EXPECT_EQ(Params::parse("a: 1").origin(), "params") << "the default name";
  EXPECT_EQ(error_of([&] { Params::parse("[1, 2]", "test.yaml"); }),
            "test.yaml: params: expected a map, got a list");
  EXPECT_EQ(error_of([&] { Params::parse("a: [1, 2", "test.yaml"); }).rfind("test.yaml:1:", 0), 0u)
      << "invalid YAML names the position";
  EXPECT_EQ(error_of([&] {
              Params::parse("a: &a [*a]", "test.yaml");
            }).rfind("test.yaml: YAML nested more than 64 levels deep", 0),
            0u);
}

TEST(Params, CopiesShareTheTree) {
  Params copy;
  {
    const Params p = sample();
    copy = p;
  }
  EXPECT_EQ(copy.get<std::string>("tax.region"), "eu") << "a copy outlives the original";
}

TEST(Params, FromATopologyFileAndAnOverride) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.overrides = {"basket.params.limit=abc",
                 "basket.params.updates=[{sku: A, unit_cents: 1}, {sku: B, unit_cents: x}]"};
  const std::string file =
      std::string(BROOK_SOURCE_DIR) + "/tests/fixtures/topology/good_shop.yaml";
  const Topology t = load_topology(file, o);
  const Params& p = t.node("basket")->params;
  EXPECT_EQ(p.origin(), file + ": nodes.basket.params");
  EXPECT_DOUBLE_EQ(p.get<double>("tax.rate"), 0.2);
  EXPECT_EQ(p.get<int>("batch"), 10);
  EXPECT_EQ(error_of([&] { p.get<std::string>("tax"); }),
            file + ":31:9: param 'tax': expected a string, got a map");
  EXPECT_EQ(error_of([&] { p.get<int>("nope"); }),
            file + ": nodes.basket.params: missing param 'nope'");
  // A value from --set has no place in the file: the error names the --set argument, as the
  // file's values name their line.
  EXPECT_EQ(error_of([&] { p.get<int>("limit"); }),
            "--set basket.params.limit=abc: param 'limit': expected an integer, got 'abc'");
  const std::vector<Params> updates = p.list("updates");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(error_of([&] { updates[1].get<int>("unit_cents"); }),
            "--set basket.params.updates=[{sku: A, unit_cents: 1}, {sku: B, unit_cents: x}]: "
            "param 'unit_cents': expected an integer, got 'x'");
  EXPECT_EQ(updates[1].origin(), file + ": nodes.basket.params.updates[1]");
  const Params& none = t.node("pricing")->params;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(error_of([&] { none.get<int>("x"); }),
            file + ": nodes.pricing.params: missing param 'x'")
      << "a node without params still says where they would be";
}

TEST(Params, FromTopologyText) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.resolve_execs = false;
  const Topology t = parse_topology(
      "topology: t\nchannels: {}\nnodes:\n  n:\n    exec: /bin/true\n    params: {rate: fast}\n",
      "t.yaml", o);
  const Params& p = t.node("n")->params;
  EXPECT_EQ(p.origin(), "t.yaml: nodes.n.params");
  EXPECT_EQ(error_of([&] { p.get<double>("rate"); }),
            "t.yaml:6:20: param 'rate': expected a number, got 'fast'");
}

}  // namespace
}  // namespace brook
