// brook-test-alloc-probe: a node that counts the heap allocations of its process while it carries
// messages, for the hot-path allocation test (tests/integration/hot_path_alloc_test.cpp).
//
// Every global operator new of the process is counted (all threads: the loop, libzmq's I/O
// thread, anything brook starts). A stage counts from its `from`-th message to its `to`-th
// (received, or emitted for the source), a steady state past connection set-up and buffer
// growth, and writes "ALLOCS <role> <messages> <allocations> <q1> <q2> <q3> <q4>" to `report`
// when it stops: the window's allocations, then those of each quarter of it.
// With BROOK_ALLOC_TRACE=DIR in its environment, the first 20 counted allocations write their
// backtraces to DIR/<role>.trace (addresses for `addr2line -Cfe`, names where exported).
//
// params: role source|relay|sink, count (source: messages to emit, then it stops), rate (source:
// messages per second, 0 = flat out), from, to (the window), body_size (bytes), report (file).
#include <execinfo.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <brook/node.hpp>
#include <cstdlib>
#include <fstream>
#include <new>

namespace {

// Fields as an array (MSGPACK_DEFINE), like the benchmark's payload: msgpack-cxx converts a
// MSGPACK_DEFINE_MAP struct through a std::map it builds per message, an allocation brook
// cannot avoid for such types (docs/bench.md).
struct ProbeMsg {
  static constexpr std::string_view kTypeName = "brook.test.ProbeMsg";
  std::uint64_t n = 0;
  std::string source;
  std::string body;
  MSGPACK_DEFINE(n, source, body)
};

std::atomic<std::uint64_t> g_allocations{0};
std::atomic<bool> g_counting{false};
std::atomic<int> g_traces_left{0};
int g_trace_fd = 2;
thread_local bool t_in_trace = false;

void count_one() noexcept {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (t_in_trace || g_traces_left.load(std::memory_order_relaxed) <= 0) return;
  if (g_traces_left.fetch_sub(1, std::memory_order_relaxed) <= 0) return;
  t_in_trace = true;  // backtrace() may allocate once, on its first call
  void* frames[32];
  const int n = backtrace(frames, 32);
  static constexpr char kHead[] = "---- allocation in the window:\n";
  (void)!write(g_trace_fd, kHead, sizeof kHead - 1);
  backtrace_symbols_fd(frames, n, g_trace_fd);
  t_in_trace = false;
}

void* allocate(std::size_t size) {
  count_one();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t size, std::align_val_t align) {
  count_one();
  const auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
void* operator new(std::size_t size, std::align_val_t a) {
  return allocate_aligned(size, a);
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return allocate_aligned(size, a);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  count_one();
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  count_one();
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto role = node.params().get<std::string>("role");
  const auto count = node.params().get<std::uint64_t>("count", 0);
  const auto from = node.params().get<std::uint64_t>("from");
  const auto to = node.params().get<std::uint64_t>("to");
  const auto body_size = node.params().get<std::size_t>("body_size", 100);
  const auto report = node.params().get<std::string>("report");
  if (from == 0 || to <= from) throw brook::ConfigError("params: need 0 < from < to");
  int traces = 0;
  if (const char* dir = std::getenv("BROOK_ALLOC_TRACE")) {
    const std::string path = std::string(dir) + "/" + role + ".trace";
    g_trace_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (g_trace_fd < 0) throw brook::Error("cannot open " + path);
    traces = 20;
  }

  std::uint64_t seen = 0;
  std::uint64_t at_from = 0;
  std::uint64_t in_window = 0;
  std::uint64_t quarters[4] = {};
  std::uint64_t quarter_start = 0;
  int quarter = 0;
  const std::uint64_t quarter_size = (to - from) / 4;
  // Called after each message's work; the window is (from, to].
  auto step = [&] {
    ++seen;
    if (seen == from) {
      g_traces_left = traces;
      at_from = quarter_start = g_allocations.load();
      g_counting = true;
    } else if (seen > from && seen <= to && quarter < 4 &&
               (seen - from == quarter_size * static_cast<std::uint64_t>(quarter + 1) ||
                seen == to)) {
      const std::uint64_t now = g_allocations.load();
      quarters[quarter++] = now - quarter_start;
      quarter_start = now;
    }
    if (seen == to) {
      g_counting = false;
      in_window = g_allocations.load() - at_from;
    }
  };
  node.on_stop([&] {
    g_counting = false;
    const std::uint64_t messages = seen >= to ? to - from : 0;
    std::ofstream(report) << "ALLOCS " << role << " " << messages << " " << in_window << " "
                          << quarters[0] << " " << quarters[1] << " " << quarters[2] << " "
                          << quarters[3] << "\n";
  });

  if (role == "source") {
    const brook::Output<ProbeMsg> out = node.output<ProbeMsg>("out");
    ProbeMsg msg;
    msg.source = node.instance_name();
    msg.body.assign(body_size, 'x');
    // Paced: due messages every 1 ms tick; flat out (rate 0): 256 per loop turn.
    const auto rate = node.params().get<std::uint64_t>("rate", 0);
    std::chrono::steady_clock::time_point started;
    node.on_ready([&] {
      started = std::chrono::steady_clock::now();
      node.every(std::chrono::milliseconds(rate == 0 ? 0 : 1), [&] {
        const auto elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count();
        const std::uint64_t due =
            rate == 0 ? seen + 256 : static_cast<std::uint64_t>(elapsed_us) * rate / 1'000'000;
        while (seen < due && seen < count) {
          msg.n = seen + 1;
          out.emit(msg);
          step();
        }
        if (seen == count) node.stop();  // after the last acknowledgement, at-least-once
      });
    });
  } else if (role == "relay") {
    const brook::Output<ProbeMsg> out = node.output<ProbeMsg>("out");
    node.on<ProbeMsg>("in", [&](const ProbeMsg& m) {
      out.emit(m);
      step();
    });
  } else if (role == "sink") {
    std::uint64_t sum = 0;  // reads the message, as a handler would
    node.on<ProbeMsg>("in", [&](const ProbeMsg& m) {
      sum += m.n + m.body.size();
      step();
    });
  } else {
    throw brook::ConfigError("params.role must be source, relay or sink, not '" + role + "'");
  }
  return node.run();
}
