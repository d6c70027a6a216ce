// brook-example-ticker: emits a Tick on port "out" every `period` (param), `count` times
// (0 = forever). The smallest useful producer; see topologies/minimal.yaml.
#include <brook/node.hpp>

struct Tick {
  static constexpr std::string_view kTypeName = "example.Tick";
  std::uint64_t n = 0;
  std::string text;
  MSGPACK_DEFINE_MAP(n, text)
};

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto period =
      node.params().get<std::chrono::milliseconds>("period", std::chrono::milliseconds(1000));
  const auto count = node.params().get<std::uint64_t>("count", 0);
  const brook::Output<Tick> out = node.output<Tick>("out");  // checked now, not at the first tick
  std::uint64_t n = 0;
  node.on_ready([&] {
    node.every(period, [&] {
      out.emit(Tick{++n, node.params().get<std::string>("text", "tick")});
      if (count > 0 && n >= count) node.stop();
    });
  });
  return node.run();
}
