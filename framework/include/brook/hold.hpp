// brook::Hold — an at-least-once message kept unacknowledged after its handler returned
// (Node::hold; docs/reliability.md, "Holding a message"), for a node that would rather not keep
// state on disk: its producer keeps the message until the hold is released, so a crash of this
// node before then re-sends it.
//
//   std::map<std::string, std::vector<brook::Hold>> adds;  // per basket
//   node.on<Add>("in", [&](const Add& a) { adds[a.basket].push_back(node.hold()); ... });
//   node.on<Checkout>("checkout", [&](const Checkout& c) {
//     out.emit(make_order(c));
//     for (auto& h : adds[c.basket]) h.release();  // acknowledged once the checkout is
//     adds.erase(c.basket);
//   });
//
// Loop thread only. A hold ends at most once; a moved-from or ended Hold does nothing.
#pragma once

#include <cstdint>
#include <memory>

namespace brook {

namespace detail {
class NodeEngine;
// What a Hold reaches its node through; the node clears it when it goes away.
struct HoldLink {
  NodeEngine* engine = nullptr;
};
}  // namespace detail

class Hold {
 public:
  Hold() = default;
  Hold(Hold&& other) noexcept;
  Hold& operator=(Hold&& other) noexcept;
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  // Gives the message back if it is still held: dropping a hold never acknowledges.
  ~Hold();

  // Acknowledges the held message. Called while handling another at-least-once message, only
  // once that message is acknowledged (after what it emits is), so that a crash in between
  // re-sends both; elsewhere (a timer, on_stop) at once.
  void release();
  // Leaves the message with its producer: not acknowledged and no longer recognised as handled,
  // so its producer's re-send (after the channel's ack_timeout) is handled again. Counted in
  // `declined`.
  void give_back();
  // True until release() or give_back().
  bool held() const noexcept { return token_ != 0; }

 private:
  friend class Node;
  Hold(std::shared_ptr<detail::HoldLink> link, std::uint64_t token) noexcept
      : link_(std::move(link)), token_(token) {}

  std::shared_ptr<detail::HoldLink> link_;
  std::uint64_t token_ = 0;
};

}  // namespace brook
