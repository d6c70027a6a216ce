// brook-test-counter: a stateful relay. Counts the TestMsgs of each ordering key and emits, for
// each, the key's new count: TestMsg{n = count, source = key, body = "<source>/<n> <body>" of
// the input}. With exactly-once effects each key's counts arrive as 1, 2, 3... with no gap and
// no repeat, whatever crashes the counter. `memory: true` keeps the counts in a map instead of
// the state store (what a node without one does), to show the difference.
#include <brook/node.hpp>
#include <map>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const bool memory = node.params().get<bool>("memory", false);
  const auto out = node.output<brook::test::TestMsg>("out");
  brook::State<std::uint64_t> counts;
  if (!memory) counts = node.state<std::uint64_t>("counts");
  std::map<std::string, std::uint64_t, std::less<>> in_memory;
  node.on<brook::test::TestMsg>("in", [&](const brook::test::TestMsg& m,
                                          const brook::Message& msg) {
    const std::string key(msg.key().value_or("-"));
    std::uint64_t n = 0;
    if (memory) {
      n = ++in_memory[key];
    } else {
      n = counts.get(key).value_or(0) + 1;
      counts.put(key, n);
    }
    // The input's body rides along: a test can size the counter's journal with the source's.
    out.emit({n, key, m.source + "/" + std::to_string(m.n) + " " + m.body}, brook::with_key(key));
  });
  return node.run();
}
