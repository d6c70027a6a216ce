// brook-test-server: answers each TestQuery on request input "in" with a TestAnswer naming this
// replica. Params: delay_ms (answer that much later, from a timer), fail_mod (fail queries with
// n % fail_mod == 0).
#include <brook/node.hpp>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto delay = std::chrono::milliseconds(node.params().get<std::uint64_t>("delay_ms", 0));
  const auto fail_mod = node.params().get<std::uint64_t>("fail_mod", 0);
  node.on_request<brook::test::TestQuery, brook::test::TestAnswer>(
      "in", [&](const brook::test::TestQuery& q, brook::Responder<brook::test::TestAnswer> r) {
        if (fail_mod > 0 && q.n % fail_mod == 0)
          throw brook::Error("refused " + std::to_string(q.n));
        brook::test::TestAnswer a{q.n, q.asker, node.instance_name()};
        if (delay.count() == 0) {
          r.reply(a);
          return;
        }
        node.after(delay, [r, a] { r.reply(a); });
      });
  return node.run();
}
