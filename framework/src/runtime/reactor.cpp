#include "runtime/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <brook/error.hpp>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>

namespace brook::detail {

namespace {
bool serves(ReactorGroup g, bool all) noexcept {
  return all || g == ReactorGroup::kControl;
}
}  // namespace

// Counts run_once's nesting; the outermost one, when it ends, frees what was removed meanwhile
// (an outer pass may still hold pointers to it).
class Reactor::Depth {
 public:
  explicit Depth(Reactor& r) : r_(r) { ++r_.depth_; }
  ~Depth() {
    if (--r_.depth_ == 0 && r_.removed_any_) r_.sweep();
  }
  Depth(const Depth&) = delete;
  Depth& operator=(const Depth&) = delete;

 private:
  Reactor& r_;
};

Reactor::Reactor() : on_error_([](const std::exception&) { throw; }) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw Error(std::string("eventfd: ") + std::strerror(errno));
}

Reactor::~Reactor() {
  ::close(wake_fd_);
}

Reactor::ReaderId Reactor::add_socket(zmq::socket_ref s, std::function<short()> interest,
                                      std::function<void(short)> fn, ReaderOptions o) {
  return add(s.handle(), -1, 0, std::move(interest), std::move(fn), o);
}

Reactor::ReaderId Reactor::add_socket(zmq::socket_ref s, short events,
                                      std::function<void(short)> fn, ReaderOptions o) {
  return add(s.handle(), -1, events, nullptr, std::move(fn), o);
}

Reactor::ReaderId Reactor::add_fd(int fd, short events, std::function<void(short)> fn,
                                  ReaderOptions o) {
  return add(nullptr, fd, events, nullptr, std::move(fn), o);
}

Reactor::ReaderId Reactor::add(void* socket, int fd, short events, std::function<short()> interest,
                               std::function<void(short)> fn, ReaderOptions o) {
  auto r = std::make_unique<Reader>();
  r->id = next_id_++;
  r->socket = socket;
  r->fd = fd;
  r->events = events;
  r->interest = std::move(interest);
  r->fn = std::move(fn);
  r->options = o;
  readers_.push_back(std::move(r));
  ++generation_;
  return readers_.back()->id;
}

Reactor::Reader* Reactor::find(ReaderId id) noexcept {
  auto it = std::lower_bound(readers_.begin(), readers_.end(), id,
                             [](const auto& r, ReaderId v) { return r->id < v; });
  return it != readers_.end() && (*it)->id == id && !(*it)->removed ? it->get() : nullptr;
}

void Reactor::remove(ReaderId id) {
  Reader* r = find(id);
  if (r == nullptr) return;
  r->removed = true;
  r->slot = -1;
  ++generation_;
  removed_any_ = true;
  if (depth_ == 0) sweep();
}

void Reactor::recheck(ReaderId id) noexcept {
  if (Reader* r = find(id); r != nullptr && r->slot >= 0) {
    poller_.recheck(static_cast<std::size_t>(r->slot));
  }
}

void Reactor::recheck_all() noexcept {
  poller_.recheck_all();
}

Reactor::SourceId Reactor::add_source(std::function<Clock::time_point()> next,
                                      std::function<void(Clock::time_point)> tick, Group g) {
  sources_.push_back(
      std::make_unique<Source>(Source{next_id_++, std::move(next), std::move(tick), g, false}));
  return sources_.back()->id;
}

void Reactor::remove_source(SourceId id) {
  for (auto& s : sources_) {
    if (s->id == id) s->removed = true;
  }
  removed_any_ = true;
  if (depth_ == 0) sweep();
}

TimerId Reactor::add_timer(Clock::time_point first, std::chrono::milliseconds period, bool periodic,
                           std::function<void()> fn) {
  return timers_.add(first, period, periodic, std::move(fn));
}

void Reactor::cancel_timer(TimerId id) {
  timers_.cancel(id);
}

void Reactor::on_error(std::function<void(const std::exception&)> fn) {
  if (fn) on_error_ = std::move(fn);
}

void Reactor::post(std::function<void()> fn) {
  bool first = false;
  {
    std::lock_guard lock(post_mutex_);
    first = posted_.empty();
    posted_.push_back(std::move(fn));
    has_posted_.store(true, std::memory_order_release);
  }
  if (first) wake();  // otherwise the write for the first one has not been consumed yet
}

void Reactor::wake() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN: the counter is full, so the fd is readable anyway.
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Reactor::rebuild() {
  std::vector<zmq::pollitem_t> items{zmq::pollitem_t{nullptr, wake_fd_, 0, 0}};
  std::vector<bool> always{false};
  slots_.assign(1, nullptr);
  for (auto& r : readers_) {
    r->slot = -1;
    if (r->removed) continue;
    r->slot = static_cast<int>(items.size());
    items.push_back(zmq::pollitem_t{r->socket, r->fd, 0, 0});
    always.push_back(r->options.recheck_always);
    slots_.push_back(r.get());
  }
  poller_.reset(std::move(items), std::move(always));
  polled_generation_ = generation_;
}

void Reactor::sweep() noexcept {
  std::erase_if(readers_, [](const auto& r) { return r->removed; });
  std::erase_if(sources_, [](const auto& s) { return s->removed; });
  removed_any_ = false;
}

int Reactor::timeout_ms(Clock::time_point deadline, bool all) {
  const auto now = Clock::now();
  auto wake = std::min(deadline, now + kMaxWait);
  if (all) {
    if (again_) {
      again_ = false;
      return 0;
    }
    wake = std::min(wake, timers_.next_deadline());
  }
  for (const auto& s : sources_) {
    if (!s->removed && serves(s->group, all)) wake = std::min(wake, s->next());
  }
  if (wake <= now) return 0;
  // Round up: a wake-up 0.4 ms away must not become a zero timeout, which would spin.
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wake - now).count());
}

int Reactor::run_once(Clock::time_point deadline, Mode mode) {
  const bool all = mode == Mode::kAll;
  if (all && depth_ > 0) {
    throw std::logic_error("Reactor::run_once(kAll) inside a callback would nest handlers");
  }
  Depth depth(*this);
  if (polled_generation_ != generation_) rebuild();
  const std::uint64_t pass = ++pass_;

  auto& items = poller_.items();
  items[0].events = all ? ZMQ_POLLIN : 0;  // posts run in kAll only
  for (std::size_t i = 1; i < items.size(); ++i) {
    const Reader& r = *slots_[i];
    items[i].events = !serves(r.options.group, all) ? 0 : r.interest ? r.interest() : r.events;
  }
  const int n = poller_.wait(timeout_ms(deadline, all));

  if (ready_.size() < static_cast<std::size_t>(depth_)) ready_.emplace_back();
  std::vector<Ready>& ready = ready_[static_cast<std::size_t>(depth_ - 1)];
  ready.clear();
  for (std::size_t i = 0; n > 0 && i < items.size(); ++i) {
    if (items[i].revents == 0) continue;
    if (i == 0) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);  // run_posted below takes the posts
      continue;
    }
    // Its handler may stop before the end (a batch limit); one that drains says so itself.
    if (!slots_[i]->options.drains) poller_.recheck(i);
    ready.push_back(Ready{slots_[i], items[i].revents});
  }
  int fired = 0;
  for (const Ready& x : ready) {
    // Removed meanwhile, or served by a nested pass (a handler waiting on kControlOnly).
    if (x.reader->removed || x.reader->served > pass) continue;
    x.reader->served = pass;
    x.reader->fn(x.revents);
    ++fired;
  }

  const auto now = Clock::now();
  if (all && timers_.next_deadline() <= now) timers_.run_due(now, on_error_);
  for (std::size_t i = 0; i < sources_.size(); ++i) {  // a tick may add sources
    Source& s = *sources_[i];
    if (!s.removed && serves(s.group, all)) s.tick(now);
  }
  if (all && has_posted_.load(std::memory_order_acquire)) run_posted();
  return fired;
}

void Reactor::run_posted() {
  {
    std::lock_guard lock(post_mutex_);
    running_.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
  }
  std::size_t i = 0;
  try {
    for (; i < running_.size(); ++i) {
      try {
        running_[i]();
      } catch (const std::exception& e) {
        on_error_(e);
      }
    }
  } catch (...) {
    // The rest go back to the front of the queue, for the next pass.
    {
      std::lock_guard lock(post_mutex_);
      posted_.insert(posted_.begin(), std::make_move_iterator(running_.begin() + i + 1),
                     std::make_move_iterator(running_.end()));
      if (!posted_.empty()) has_posted_.store(true, std::memory_order_relaxed);
    }
    running_.clear();
    wake();
    throw;
  }
  running_.clear();
}

}  // namespace brook::detail
