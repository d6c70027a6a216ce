// Bounds on what a topology file may make the loader do: file size, nesting, aliases, and YAML
// that yaml-cpp itself mishandles. Each is refused with one located error saying what to change.
#include <gtest/gtest.h>

#include <brook/topology.hpp>
#include <optional>
#include <string>
#include <vector>

namespace brook {
namespace {

LoadOptions isolated() {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

std::vector<std::string> errors_in(const std::string& text, LoadOptions o = isolated()) {
  try {
    parse_topology(text, "t.yaml", o);
  } catch (const TopologyError& e) {
    std::vector<std::string> out;
    for (const auto& d : e.diagnostics())
      out.push_back(d.str());
    return out;
  }
  ADD_FAILURE() << "loaded without errors";
  return {};
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += s;
  return out;
}

constexpr std::string_view kMinimal =
    "topology: t\n"
    "channels: {c: {}}\n"
    "nodes:\n"
    "  n:\n"
    "    exec: ./n\n"
    "    outputs: [c]\n";

TEST(TopologyLimits, NestingDeeperThan64IsLocatedAtTheFirstLevelTooDeep) {
  // The map is level 1, the first '[' level 2: the 64th '[' (column 67) is level 65.
  EXPECT_EQ(errors_in("topology: t\nx: " + repeat("[", 100) + repeat("]", 100) + "\n"),
            std::vector<std::string>{
                "t.yaml:2:67: error: YAML nested more than 64 levels deep (hint: flatten the "
                "structure; an alias inside its own anchor (&a [*a]) nests without end)"});
}

TEST(TopologyLimits, NestingAtTheLimitLoads) {
  // Levels: the file 1, nodes 2, n 3, params 4, the first '[' 5: the 60th is level 64.
  const std::string params = "    params: {x: " + repeat("[", 60) + repeat("]", 60) + "}\n";
  EXPECT_NO_THROW(parse_topology(std::string(kMinimal) + params, "t.yaml", isolated()));
}

TEST(TopologyLimits, NestingTooDeepForYamlCppIsAnErrorNotACrash) {
  const auto errors = errors_in("x: " + repeat("[", 100000) + "\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("t.yaml:", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find("error: invalid YAML: nested more than 64 levels deep"),
            std::string::npos)
      << errors[0];
}

TEST(TopologyLimits, AnAliasInsideItsOwnAnchorIsRefused) {
  EXPECT_EQ(errors_in("topology: t\nx: &a [*a]\n"),
            std::vector<std::string>{
                "t.yaml:2:4: error: YAML nested more than 64 levels deep (hint: flatten the "
                "structure; an alias inside its own anchor (&a [*a]) nests without end)"});
}

TEST(TopologyLimits, AliasesOfAliasesCountAsEverythingTheyStandFor) {
  // Eight levels of ten aliases each stand for 10^9 values.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 8; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + repeat(prev + ", ", 9) +
            prev + "]\n";
  }
  const auto errors = errors_in(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("error: more than 200000 YAML values (each use of an alias counts as "
                           "the values it stands for) (hint: a topology needs far fewer; do not "
                           "nest aliases of aliases)"),
            std::string::npos)
      << errors[0];
}

TEST(TopologyLimits, AStrayCommaIsASyntaxError) {
  // yaml-cpp 0.7's LoadAll would return empty documents for these until memory ran out.
  EXPECT_EQ(errors_in(","),
            std::vector<std::string>{"t.yaml:1:1: error: invalid YAML: unexpected ',' (hint: "
                                     "check indentation, quoting and brackets at or just before "
                                     "this position)"});
  EXPECT_EQ(errors_in("{a: 1},"),
            std::vector<std::string>{"t.yaml:1:7: error: invalid YAML: unexpected ',' (hint: "
                                     "check indentation, quoting and brackets at or just before "
                                     "this position)"});
}

TEST(TopologyLimits, OverrideValuesAreBoundedToo) {
  LoadOptions o = isolated();
  o.overrides = {"n.params.x=&a [*a]"};
  EXPECT_EQ(errors_in(std::string(kMinimal), o),
            std::vector<std::string>{
                "--set n.params.x=&a [*a]: error: invalid YAML value '&a [*a]': YAML nested more "
                "than 64 levels deep (hint: flatten the structure; an alias inside its own "
                "anchor (&a [*a]) nests without end)"});
}

TEST(TopologyLimits, FileSizeLimitNamesTheLimit) {
  LoadOptions o = isolated();
  o.max_file_size = 16;
  try {
    parse_topology(std::string(17, '#'), "t.yaml", o);
    FAIL() << "expected an exception";
  } catch (const TopologyError&) {
    FAIL() << "a file too large is refused before it is parsed";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "t.yaml: topology file is 17 bytes, more than the limit of 16 bytes");
  }
}

}  // namespace
}  // namespace brook
