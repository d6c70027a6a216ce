// The containers that keep the message path free of per-message heap allocation:
// RingQueue (senders' backlogs), RecyclingAllocator (the receivers' sets) and SlotMap (the
// delivery tracker's chained acknowledgements).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "util/recycling_allocator.hpp"
#include "util/ring_queue.hpp"
#include "util/slot_map.hpp"

namespace brook::detail {
namespace {

TEST(RingQueue, KeepsFifoOrderAcrossWrapAroundAndGrowth) {
  RingQueue<int> q;
  int next_in = 0, next_out = 0;
  // Interleaved pushes and pops wrap the head around the array, then outgrow it twice.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 3 + round; ++i)
      q.push_back(next_in++);
    for (int i = 0; i < 2 + round / 2 && !q.empty(); ++i) {
      ASSERT_EQ(q.front(), next_out++);
      q.pop_front();
    }
    ASSERT_EQ(q.size(), static_cast<std::size_t>(next_in - next_out));
    for (std::size_t i = 0; i < q.size(); ++i)
      ASSERT_EQ(q[i], next_out + static_cast<int>(i)) << "index from the front";
  }
  while (!q.empty()) {
    ASSERT_EQ(q.front(), next_out++);
    q.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(RingQueue, PoppingGivesAMessageItsContentBack) {
  RingQueue<zmq::message_t> q;
  bool freed = false;
  auto* data = new char[100];
  q.push_back(zmq::message_t(
      data, 100,
      [](void* d, void* hint) {
        delete[] static_cast<char*>(d);
        *static_cast<bool*>(hint) = true;
      },
      &freed));
  EXPECT_FALSE(freed);
  q.pop_front();
  EXPECT_TRUE(freed) << "the slot still held the message after pop_front()";
}

TEST(RecyclingAllocator, AMapReusesItsNodesOnceItReachedItsSize) {
  using Map = std::unordered_map<std::uint64_t, std::string, std::hash<std::uint64_t>,
                                 std::equal_to<std::uint64_t>,
                                 RecyclingAllocator<std::pair<const std::uint64_t, std::string>>>;
  Map m;
  m.reserve(64);
  std::set<const void*> first_nodes;
  for (std::uint64_t k = 0; k < 32; ++k)
    first_nodes.insert(&*m.emplace(k, "v").first);
  m.clear();
  // A stream of inserts and erases of at most 32 live entries gets only those 32 nodes back.
  for (std::uint64_t k = 100; k < 10'000; ++k) {
    const auto it = m.emplace(k, "v").first;
    EXPECT_EQ(first_nodes.count(&*it), 1u) << "entry " << k << " got a new node";
    if (m.size() == 32) m.erase(m.begin());
  }
}

TEST(SlotMap, AKeyFindsItsValueUntilErasedAndNeverAnotherOne) {
  SlotMap<std::string> m;
  EXPECT_EQ(m.find(0), nullptr) << "0 is never a key";
  auto [a, va] = m.emplace();
  va = "a";
  auto [b, vb] = m.emplace();
  vb = "b";
  ASSERT_NE(a, 0u);
  ASSERT_NE(a, b);
  EXPECT_EQ(*m.find(a), "a");
  EXPECT_EQ(*m.find(b), "b");
  EXPECT_EQ(m.size(), 2u);
  m.erase(a);
  EXPECT_EQ(m.find(a), nullptr);
  m.erase(a);  // a stale key erases nothing
  EXPECT_EQ(m.size(), 1u);
  auto [c, vc] = m.emplace();
  EXPECT_TRUE(vc.empty()) << "a reused slot starts from T{}";
  vc = "c";
  EXPECT_NE(c, a) << "the reused slot's key differs by its generation";
  EXPECT_EQ(m.find(a), nullptr) << "the old key does not reach the slot's new value";
  EXPECT_EQ(*m.find(c), "c");
  EXPECT_EQ(m.find(c + (std::uint64_t{1} << 32)), nullptr) << "a later generation: not handed out";
  EXPECT_EQ(m.find(b + 1000), nullptr) << "an index past the array";
  std::set<std::string> seen;
  m.for_each([&](const std::string& v) { seen.insert(v); });
  EXPECT_EQ(seen, (std::set<std::string>{"b", "c"}));
}

TEST(SlotMap, ReusesFreedSlotsInsteadOfGrowing) {
  SlotMap<int> m;
  std::vector<std::uint64_t> keys;
  for (int i = 0; i < 8; ++i)
    keys.push_back(m.emplace().first);
  const int* first = m.find(keys[0]);
  // Streaming values through: at most 8 at once, the array never moves.
  for (int round = 0; round < 1000; ++round) {
    m.erase(keys[round % 8]);
    keys[round % 8] = m.emplace().first;
  }
  EXPECT_EQ(m.size(), 8u);
  EXPECT_EQ(first, m.find(keys[0])) << "slot 0 is still where it was";
}

}  // namespace
}  // namespace brook::detail
