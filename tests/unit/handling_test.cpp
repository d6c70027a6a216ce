// What happens to a message after its handler ran (runtime/handling.hpp), shared by the node
// process and brook::testing: retry delays and dead-letter headers; which calls are timed for the
// latency histogram.
#include "runtime/handling.hpp"

#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <set>
#include <vector>

#include "runtime/handler_timing.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;

TEST(RetryBackoff, DoublesFromInitialUpToMaxWithJitterInTheUpperHalf) {
  ChannelSpec::Retry policy;
  policy.max_attempts = 8;
  policy.initial = 100ms;
  policy.max = 1000ms;
  const std::chrono::milliseconds nominal[] = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
  for (std::uint64_t seed = 1; seed < 200; ++seed) {
    RetryBackoff backoff(seed);
    for (std::uint32_t attempt = 1; attempt < 8; ++attempt) {
      const auto d = backoff.next(policy, attempt);
      ASSERT_TRUE(d) << "attempt " << attempt << " of 8 is retried";
      const auto n = nominal[attempt - 1];
      EXPECT_GE(*d, n / 2) << "attempt " << attempt;
      EXPECT_LE(*d, n) << "attempt " << attempt;
    }
    EXPECT_FALSE(backoff.next(policy, 8)) << "max_attempts used up";
  }
}

TEST(RetryBackoff, SpreadsTheRetriesOfManyMessages) {
  ChannelSpec::Retry policy;
  policy.max_attempts = 2;
  policy.initial = 1000ms;
  RetryBackoff backoff;
  std::set<long> delays;
  for (int i = 0; i < 100; ++i)
    delays.insert(backoff.next(policy, 1)->count());
  EXPECT_GT(delays.size(), 50u);
}

TEST(RetryBackoff, NoRetryWithOneAttempt) {
  RetryBackoff backoff;
  EXPECT_FALSE(backoff.next(ChannelSpec::Retry{}, 1)) << "the default policy: one attempt";
}

TEST(DeadLetterHeaders, KeepTheOriginalHeadersThenSayWhy) {
  OutgoingEnvelope out;
  out.producer = "basket.0@abc";
  out.seq = 42;
  out.channel = "checkouts";
  out.type = "shop.Checkout";
  const Header original[] = {{"tenant", "t1"}};
  out.headers = original;
  EnvelopeEncoder encoder;
  const auto frame = encoder.encode(out, 1);
  EnvelopeView env;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, env));
  const auto h = dead_letter_headers(env, std::string(2000, 'e'), 3, "product.1");
  ASSERT_EQ(h.size(), 7u);
  EXPECT_EQ(h[0], std::make_pair(std::string("tenant"), std::string("t1")));
  EXPECT_EQ(h[1].first, "dead-letter-error");
  EXPECT_EQ(h[1].second.size(), 1024u) << "the error is cut to 1 KiB";
  EXPECT_EQ(h[2].second, "3");
  EXPECT_EQ(h[3].second, "product.1");
  EXPECT_EQ(h[4].second, "checkouts");
  EXPECT_EQ(h[5].second, "basket.0@abc");
  EXPECT_EQ(h[6].second, "42");
}

// Under a burst one call in 8 is timed and the others count at its time: the histogram's count
// is every call, its buckets and sum follow the timed calls.
TEST(HandlerTiming, TimesTheFirstOfEachBatchAndOneInEightElseCountingEveryCall) {
  HandlerTiming t;
  LatencyHistogram h;
  std::vector<int> timed;
  for (int call = 0; call < 20; ++call) {
    if (t.due(false)) {
      timed.push_back(call);
      t.timed(h, call < 8 ? 3us : 300us);
    } else {
      t.untimed(h);
    }
  }
  EXPECT_EQ(timed, (std::vector<int>{0, 8, 16}));  // the very first call, then every 8th
  EXPECT_EQ(h.count(), 20u);
  EXPECT_EQ(h.counts[LatencyHistogram::bucket_of(3'000)], 8u);     // calls 0-7 at 3 µs
  EXPECT_EQ(h.counts[LatencyHistogram::bucket_of(300'000)], 12u);  // 8-19 at 300 µs
  EXPECT_EQ(h.sum_ns, 8u * 3'000 + 12u * 300'000);

  // A batch's first call is timed whatever came before: a node woken per message times them all.
  EXPECT_TRUE(t.due(true));
  t.timed(h, 5us);
  EXPECT_TRUE(t.due(true));
  t.timed(h, 7us);
  EXPECT_FALSE(t.due(false));
  t.untimed(h);
  EXPECT_EQ(h.count(), 23u);
  EXPECT_EQ(h.counts[LatencyHistogram::bucket_of(7'000)], 3u);  // 5 µs, 7 µs and one more at 7
}

}  // namespace
}  // namespace brook::detail
