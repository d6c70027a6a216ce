// brook-test-batcher: forwards the TestMsgs of each ordering key in groups of `group` (default
// 5): a message waits in memory, held (node.hold), until its key has a full group; then the
// group is emitted — TestMsg{n = the input's n, source = "batcher", body = the input's source}
// — and its holds are released, so they are acknowledged once the group's last message is (after
// the consumers acknowledged the group). `hold: false` lets each message be acknowledged when its
// handler returns, as a node without holds does, to show what a crash then loses.
#include <brook/node.hpp>
#include <map>
#include <vector>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto group = node.params().get<std::uint64_t>("group", 5);
  const bool hold = node.params().get<bool>("hold", true);
  const auto out = node.output<brook::test::TestMsg>("out");
  struct Waiting {
    std::vector<brook::test::TestMsg> msgs;
    std::vector<brook::Hold> holds;
  };
  std::map<std::string, Waiting, std::less<>> waiting;
  node.on<brook::test::TestMsg>("in",
                                [&](const brook::test::TestMsg& m, const brook::Message& msg) {
                                  const std::string key(msg.key().value_or("-"));
                                  Waiting& w = waiting[key];
                                  w.msgs.push_back(m);
                                  if (hold) w.holds.push_back(node.hold());
                                  if (w.msgs.size() < group) return;
                                  for (const auto& x : w.msgs)
                                    out.emit({x.n, "batcher", x.source}, brook::with_key(key));
                                  for (auto& h : w.holds)
                                    h.release();
                                  waiting.erase(key);
                                });
  return node.run();
}
