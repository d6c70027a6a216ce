// The containers that keep the message path free of per-message heap allocation:
// RingQueue (senders' backlogs) and RecyclingAllocator (the delivery tracker's maps).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_map>
#include <zmq.hpp>

#include "util/recycling_allocator.hpp"
#include "util/ring_queue.hpp"

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

}  // namespace
}  // namespace brook::detail
