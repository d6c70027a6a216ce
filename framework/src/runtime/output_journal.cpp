#include "runtime/output_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <brook/error.hpp>
#include <brook/ids.hpp>
#include <brook/log.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace brook::detail {

namespace {

namespace fs = std::filesystem;

// Segment layout (docs/reliability.md): a 64-byte header, then 8-byte aligned records of a
// 16-byte head (body size, CRC-32 of type + body, type, reserved) and a body. The body size is
// stored last, so a record whose size is non-zero is complete; the zeros after the last record
// end the segment.
constexpr char kMagic[8] = {'B', 'R', 'O', 'O', 'K', 'J', '0', '1'};
constexpr std::size_t kHeaderSize = 64;
constexpr std::size_t kIdOffset = 32;
constexpr std::size_t kIdSize = 32;
constexpr std::size_t kRecordHead = 16;
constexpr std::size_t kMessageHead = 16;  // a message record's body: seq, key hash, then the frame
constexpr std::uint32_t kTypeMessage = 1;
constexpr std::uint32_t kTypeLowWater = 2;
// Messages from a sequence number on were never committed (a state store's transaction failed
// or never happened): a reader drops those written before this record.
constexpr std::uint32_t kTypeDiscard = 3;
// Every append leaves room for one discard record in its segment, so a discard never needs a
// new segment (which a full disk could refuse).
constexpr std::size_t kDiscardRecord = kRecordHead + 8;
constexpr std::string_view kSuffix = ".seg";

std::size_t align8(std::size_t n) {
  return (n + 7) & ~std::size_t{7};
}

std::string errno_text(int err) {
  return std::strerror(err);
}

[[noreturn]] void fail(const fs::path& path, const std::string& what, int err) {
  throw Error("journal " + path.string() + ": " + what + ": " + errno_text(err));
}

bool out_of_space(int err) {
  return err == ENOSPC || err == EDQUOT;
}

// A full file system refuses the message like a full queue: the caller may try again later,
// and the journal takes messages again once there is room.
[[noreturn]] void fail_full(const fs::path& path, const std::string& what, int err) {
  throw BackpressureError("journal " + path.string() + ": " + what + ": " + errno_text(err) +
                          "; the durable output refuses messages until there is room (see "
                          "'Durable outputs' in docs/reliability.md)");
}

std::uint64_t load64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
std::uint32_t load32(const std::byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store64(std::byte* p, std::uint64_t v) {
  std::memcpy(p, &v, sizeof v);
}
void store32(std::byte* p, std::uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}

std::uint32_t record_crc(std::uint32_t type, std::span<const std::byte> head,
                         std::span<const std::byte> body) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(&type), sizeof type);
  // Skip empty parts: crc32() with a null buffer returns the initial value, not the running one.
  for (const auto part : {head, body}) {
    if (!part.empty()) {
      crc = crc32(crc, reinterpret_cast<const Bytef*>(part.data()), static_cast<uInt>(part.size()));
    }
  }
  return static_cast<std::uint32_t>(crc);
}

std::string segment_name(std::uint64_t number) {
  std::string digits = std::to_string(number);
  return std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits +
         std::string(kSuffix);
}

std::optional<std::uint64_t> segment_number(const fs::path& p) {
  const std::string name = p.filename().string();
  if (name.size() != 20 + kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + 20, n);
  if (ec != std::errc{} || ptr != name.data() + 20) return std::nullopt;
  return n;
}

// Lays out one record at `r` (kRecordHead + align8(head + body) bytes; the padding is left as
// it is).
void encode_record(std::byte* r, std::uint32_t type, std::span<const std::byte> head,
                   std::span<const std::byte> body) {
  std::memcpy(r + kRecordHead, head.data(), head.size());
  if (!body.empty()) std::memcpy(r + kRecordHead + head.size(), body.data(), body.size());
  store32(r + 4, record_crc(type, head, body));
  store32(r + 8, type);
  // The size goes last: a reader (the next incarnation) treats a record as complete once it is
  // non-zero, so a process writing into the mapping may die between any two of these stores.
  std::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(r))
      .store(static_cast<std::uint32_t>(head.size() + body.size()), std::memory_order_release);
}

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

OutputJournal::OutputJournal(fs::path dir, FsyncPolicy fsync, std::size_t segment_size)
    : dir_(std::move(dir)),
      fsync_(fsync),
      segment_size_(std::max(segment_size, std::size_t{4096})) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) fail(dir_, "cannot create the directory (check state_dir in the topology)", ec.value());
  lock_dir();
  try {
    recover();
    if (fsync_ == FsyncPolicy::kBatch) flush_thread_ = std::thread([this] { flusher(); });
  } catch (...) {
    for (auto& m : old_)
      unmap(m);
    unmap(active_);
    if (flush_fd_ >= 0) ::close(flush_fd_);
    ::close(lock_fd_);
    throw;
  }
}

OutputJournal::~OutputJournal() {
  if (fsync_ == FsyncPolicy::kAlways) sync();
  if (flush_thread_.joinable()) {
    {
      std::lock_guard lock(flush_mutex_);
      flush_stop_ = true;
    }
    flush_cv_.notify_one();
    flush_thread_.join();  // after a last sync of everything written
  }
  for (const int fd : to_flush_)
    ::close(fd);
  if (flush_fd_ >= 0) ::close(flush_fd_);
  for (auto& m : old_)
    unmap(m);
  unmap(active_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void OutputJournal::unmap(Mapping& m) noexcept {
  if (m.base != nullptr) ::munmap(m.base, m.size);
  if (m.fd >= 0) ::close(m.fd);
  m = Mapping{};
}

void OutputJournal::lock_dir() {
  const fs::path lock = dir_ / "lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail(lock, "cannot open", errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw Error("journal " + dir_.string() +
                  " is in use by another process: is this node instance already running? Each "
                  "instance of a durable output needs its own journal");
    }
    fail(lock, "cannot lock", err);
  }
}

OutputJournal::Mapping OutputJournal::map_segment(const Segment& s) {
  Mapping m;
  m.fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd < 0) fail(s.path, "cannot open", errno);
  struct stat st {};
  if (::fstat(m.fd, &st) != 0) fail(s.path, "cannot stat", errno);
  m.size = static_cast<std::size_t>(st.st_size);
  if (m.size >= kHeaderSize) {
    void* p = ::mmap(nullptr, m.size, PROT_READ, MAP_SHARED, m.fd, 0);
    if (p == MAP_FAILED) fail(s.path, "cannot map", errno);
    m.base = static_cast<std::byte*>(p);
  }
  return m;
}

bool OutputJournal::read_header(Segment& s, Mapping& m) {
  if (m.base == nullptr ||
      std::all_of(m.base, m.base + 8, [](std::byte b) { return b == std::byte{0}; })) {
    // Created but no header written yet: a crash right after creating it. Nothing in it.
    unmap(m);
    std::error_code ec;
    fs::remove(s.path, ec);
    return false;
  }
  if (std::memcmp(m.base, kMagic, sizeof kMagic) != 0) {
    throw Error("journal " + s.path.string() +
                ": not a brook journal segment (bad magic); move it out of " + dir_.string());
  }
  s.first_seq = load64(m.base + 16);
  low_water_ = std::max(low_water_, load64(m.base + 24));
  const char* id = reinterpret_cast<const char*>(m.base + kIdOffset);
  const std::string seg_id(id, strnlen(id, kIdSize));
  if (id_.empty()) {
    id_ = seg_id;
  } else if (seg_id != id_) {
    throw Error("journal " + s.path.string() + " belongs to journal '" + seg_id + "', not '" + id_ +
                "' like the others in " + dir_.string() +
                "; segments of two journals were mixed: move the odd one out");
  }
  return true;
}

void OutputJournal::recover() {
  std::vector<Segment> found;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (auto n = segment_number(entry.path())) found.push_back(Segment{entry.path(), *n, 0});
  }
  std::sort(found.begin(), found.end(),
            [](const Segment& a, const Segment& b) { return a.number < b.number; });
  std::uint64_t max_seq = 0;
  std::uint64_t last_number = 0;
  for (auto& s : found) {
    last_number = s.number;
    Mapping m = map_segment(s);
    if (!read_header(s, m)) continue;
    max_seq = std::max(max_seq, s.first_seq > 0 ? s.first_seq - 1 : 0);
    scan(s, m, old_.size(), pending_, low_water_, max_seq);
    old_.push_back(m);
    segments_.push_back(s);
  }
  if (id_.empty()) id_ = random_id();
  std::erase_if(pending_, [&](const Pending& p) { return p.seq < low_water_; });
  // Mappings with nothing left to replay are not needed.
  std::vector<bool> used(old_.size(), false);
  for (const auto& p : pending_)
    used[p.mapping] = true;
  for (std::size_t i = 0; i < old_.size(); ++i) {
    if (!used[i]) unmap(old_[i]);
  }
  next_seq_ = std::max({max_seq + 1, low_water_, std::uint64_t{1}});
  if (!pending_.empty()) {
    BROOK_LOG(kInfo) << "journal " << dir_.string() << ": " << pending_.size()
                     << " messages accepted by an earlier incarnation were not acknowledged ("
                     << pending_.front().seq << ".." << pending_.back().seq << "); re-sending them";
  }
  next_number_ = last_number + 1;
  // Free what is acknowledged before asking for a new segment: the last old one stays, with the
  // journal's id and low-water mark, until the new one exists.
  delete_acknowledged();
  try {
    open_segment(next_seq_, 0);
  } catch (const BackpressureError& e) {
    // A full disk must not stop the node from starting (a restart policy would loop on it): it
    // re-sends what the journal holds, and append() refuses new messages until there is room.
    BROOK_LOG(kWarn) << e.what();
    full_ = true;
  }
  delete_acknowledged();
}

void OutputJournal::scan(const Segment& s, Mapping& m, std::size_t mapping,
                         std::vector<Pending>& found, std::uint64_t& low_water,
                         std::uint64_t& max_seq) {
  std::size_t at = kHeaderSize;
  while (at + kRecordHead <= m.size) {
    const std::byte* r = m.base + at;
    const std::uint32_t body_size = load32(r);
    if (body_size == 0) return;  // end of what was written
    if (body_size > m.size - at - kRecordHead) {
      BROOK_LOG(kWarn) << "journal " << s.path.string() << ": record at offset " << at
                       << " runs past the end; ignoring the rest of the segment";
      return;
    }
    const std::uint32_t crc = load32(r + 4);
    const std::uint32_t type = load32(r + 8);
    const std::span<const std::byte> body(r + kRecordHead, body_size);
    if (record_crc(type, {}, body) != crc) {
      // A torn write (the machine stopped mid-record without fsync) or damage: what follows
      // cannot be trusted.
      BROOK_LOG(kWarn) << "journal " << s.path.string() << ": bad checksum at offset " << at
                       << "; ignoring the rest of the segment";
      return;
    }
    if (type == kTypeMessage && body_size >= 16) {
      found.push_back(Pending{mapping, at + kRecordHead + 16, load64(body.data()),
                              load64(body.data() + 8), body_size - 16});
      max_seq = std::max(max_seq, found.back().seq);
    } else if (type == kTypeLowWater && body_size >= 8) {
      low_water = std::max(low_water, load64(body.data()));
    } else if (type == kTypeDiscard && body_size >= 8) {
      const std::uint64_t from = load64(body.data());
      std::erase_if(found, [from](const Pending& p) { return p.seq >= from; });
      // Numbering goes on from there (a segment begun within the discarded numbers says more).
      if (from > 0) max_seq = std::min(max_seq, from - 1);
    }
    at += kRecordHead + align8(body_size);
  }
}

std::size_t OutputJournal::replay(const std::function<void(const Record&)>& fn) {
  const std::size_t n = pending_.size();
  for (const auto& p : pending_) {
    const Mapping& m = old_[p.mapping];
    fn(Record{p.seq, p.key_hash, std::span<const std::byte>(m.base + p.offset, p.frame_size)});
  }
  pending_.clear();
  pending_.shrink_to_fit();
  for (auto& m : old_)
    unmap(m);
  old_.clear();
  return n;
}

void OutputJournal::open_segment(std::uint64_t first_seq, std::size_t min_size) {
  const std::size_t size = std::max(segment_size_, align8(min_size + kHeaderSize));
  Segment s{dir_ / segment_name(next_number_), next_number_, first_seq};
  Mapping m;
  m.fd = ::open(s.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (m.fd < 0) {
    const int err = errno;
    if (out_of_space(err)) fail_full(s.path, "cannot create", err);
    fail(s.path, "cannot create", err);
  }
  auto discard = [&] {
    ::close(m.fd);
    std::error_code ec;
    fs::remove(s.path, ec);
  };
  // Reserve the blocks now: a full disk fails here, with a clear error, not later as a SIGBUS
  // when a store into the mapping finds no block behind it. Until a new segment exists the
  // active one stays, so acknowledgements can still be recorded in what room it has left.
  if (const int err = ::posix_fallocate(m.fd, 0, static_cast<off_t>(size)); err != 0) {
    discard();
    const std::string what = "cannot reserve " + std::to_string(size) + " bytes";
    if (out_of_space(err)) fail_full(s.path, what, err);
    fail(s.path, what, err);
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    discard();
    fail(s.path, "cannot map", err);
  }
  if (active_.base != nullptr) {
    if (fsync_ == FsyncPolicy::kAlways) sync_range(synced_to_, write_at_);
    unmap(active_);
  }
  m.base = static_cast<std::byte*>(p);
  m.size = size;
  std::memcpy(m.base, kMagic, sizeof kMagic);
  store64(m.base + 8, s.number);
  store64(m.base + 16, first_seq);
  store64(m.base + 24, low_water_);
  std::memcpy(m.base + kIdOffset, id_.data(), std::min(id_.size(), kIdSize));
  ++next_number_;
  active_ = m;
  write_at_ = kHeaderSize;
  synced_to_ = 0;
  segments_.push_back(s);
  if (fsync_ == FsyncPolicy::kAlways) {
    sync_range(0, kHeaderSize);
    sync_dir(dir_);  // the new file's name must survive a machine crash too
  } else if (fsync_ == FsyncPolicy::kBatch) {
    sync_dir(dir_);
    const int copy = ::fcntl(m.fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) fail(s.path, "cannot duplicate the descriptor for the flusher", errno);
    std::lock_guard lock(flush_mutex_);
    if (flush_fd_ >= 0) to_flush_.push_back(flush_fd_);  // the finished segment: a last sync
    flush_fd_ = copy;
  }
}

void OutputJournal::roll(std::uint64_t first_seq, std::size_t min_size) {
  try {
    open_segment(first_seq, min_size);
  } catch (const BackpressureError& e) {
    if (!full_) BROOK_LOG(kWarn) << e.what();
    full_ = true;
    throw;
  }
  if (full_) {
    BROOK_LOG(kInfo) << "journal " << dir_.string() << ": there is room again; accepting messages";
  }
  full_ = false;
}

void OutputJournal::write_record(std::uint32_t type, std::span<const std::byte> head,
                                 std::span<const std::byte> body) {
  scratch_.assign(kRecordHead + align8(head.size() + body.size()), std::byte{0});
  encode_record(scratch_.data(), type, head, body);
  write_out(scratch_, write_at_);
  write_at_ += scratch_.size();
}

void OutputJournal::write_out(std::span<const std::byte> bytes, std::size_t at) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(active_.fd, bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      if (out_of_space(err)) fail_full(segments_.back().path, "cannot write", err);
      fail(segments_.back().path, "cannot write", err);
    }
    done += static_cast<std::size_t>(n);
  }
}

void OutputJournal::append(std::uint64_t seq, std::uint64_t key_hash,
                           std::span<const std::byte> frame) {
  std::byte head[kMessageHead];
  store64(head, seq);
  store64(head + 8, key_hash);
  const std::size_t need = kRecordHead + align8(sizeof head + frame.size());
  if (active_.base == nullptr || write_at_ + need + kDiscardRecord > active_.size) {
    roll(seq, need + kDiscardRecord);
  }
  const std::size_t start = write_at_;
  encode_record(active_.base + write_at_, kTypeMessage, head, frame);
  write_at_ += need;
  next_seq_ = seq + 1;
  made_durable(start);
}

void OutputJournal::append_batch(std::span<const Record> records) {
  std::size_t i = 0;
  while (i < records.size()) {
    // As many records as the active segment takes, in one write.
    const std::size_t start = write_at_;
    batch_.clear();
    for (; i < records.size(); ++i) {
      const std::size_t need = kRecordHead + align8(kMessageHead + records[i].frame.size());
      if (active_.base == nullptr || start + batch_.size() + need + kDiscardRecord > active_.size)
        break;
      std::byte head[kMessageHead];
      store64(head, records[i].seq);
      store64(head + 8, records[i].key_hash);
      const std::size_t at = batch_.size();
      batch_.resize(at + need);  // zeroed: the padding
      encode_record(batch_.data() + at, kTypeMessage, head, records[i].frame);
    }
    if (!batch_.empty()) {
      write_out(batch_, start);
      write_at_ = start + batch_.size();
      next_seq_ = records[i - 1].seq + 1;
      made_durable(start);
    }
    if (i < records.size()) {
      roll(records[i].seq,
           kRecordHead + align8(kMessageHead + records[i].frame.size()) + kDiscardRecord);
    }
  }
}

void OutputJournal::acknowledged_below(std::uint64_t seq) {
  if (seq <= low_water_) return;
  low_water_ = seq;
  std::byte body[8];
  store64(body, seq);
  // Never a new segment from here: acknowledgements arrive in the loop's socket handling, where
  // a full disk must not be an error. Without room the mark waits for the next segment's header.
  if (active_.base != nullptr &&
      write_at_ + kRecordHead + sizeof body + kDiscardRecord <= active_.size) {
    try {
      write_record(kTypeLowWater, body, {});
    } catch (const std::exception& e) {
      // Only more re-sends after a restart; the next mark or segment header tries again.
      BROOK_LOG(kWarn) << e.what() << " (an acknowledgement mark)";
    }
  }
  delete_acknowledged();
}

void OutputJournal::made_durable(std::size_t start) {
  if (fsync_ == FsyncPolicy::kAlways) {
    sync_range(start, write_at_);
  } else if (fsync_ == FsyncPolicy::kBatch) {
    dirty_.store(true, std::memory_order_relaxed);
  }
}

void OutputJournal::discard_from(std::uint64_t seq) {
  if (seq >= next_seq_) return;
  std::erase_if(pending_, [seq](const Pending& p) { return p.seq >= seq; });
  if (active_.base == nullptr) {
    // Only at start, on a full disk: records of the last incarnation would come back with the
    // next one. Refusing to start lets the restart policy try again once there is room.
    throw Error("journal " + dir_.string() + ": cannot record that messages from " +
                std::to_string(seq) + " on were never committed: no room for a segment");
  }
  std::byte body[8];
  store64(body, seq);
  const std::size_t start = write_at_;
  write_record(kTypeDiscard, body, {});  // append() left room for it
  next_seq_ = seq;
  made_durable(start);
}

void OutputJournal::delete_acknowledged() {
  // A segment holds sequence numbers below the next one's first: once the low-water mark passed
  // that, nothing in it is needed. The active (last) segment always stays.
  std::size_t drop = 0;
  while (drop + 1 < segments_.size() && segments_[drop + 1].first_seq <= low_water_)
    ++drop;
  for (std::size_t i = 0; i < drop; ++i) {
    std::error_code ec;
    fs::remove(segments_[i].path, ec);
    if (ec) {
      BROOK_LOG(kWarn) << "journal: cannot delete " << segments_[i].path.string() << ": "
                       << ec.message();
    }
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(drop));
}

void OutputJournal::flusher() {
  // Syncs the active segment kBatchInterval after it was written to, and each finished segment
  // once more before closing it, so a roll never leaves a segment partly on disk.
  std::vector<int> finished;
  std::unique_lock lock(flush_mutex_);
  for (;;) {
    flush_cv_.wait_for(lock, kBatchInterval, [&] { return flush_stop_ || !to_flush_.empty(); });
    const bool stop = flush_stop_;
    finished.swap(to_flush_);
    const int active = flush_fd_;  // replaced (and queued in to_flush_) only under the lock
    lock.unlock();
    for (const int fd : finished) {
      if (::fdatasync(fd) != 0) {
        BROOK_LOG(kWarn) << "journal " << dir_.string()
                         << ": fdatasync failed: " << errno_text(errno);
      }
      ::close(fd);
    }
    finished.clear();
    if (active >= 0 && dirty_.exchange(false, std::memory_order_relaxed) &&
        ::fdatasync(active) != 0) {
      BROOK_LOG(kWarn) << "journal " << dir_.string()
                       << ": fdatasync failed: " << errno_text(errno);
    }
    lock.lock();
    if (stop && to_flush_.empty()) return;
  }
}

void OutputJournal::sync() {
  if (active_.base != nullptr && synced_to_ < write_at_) sync_range(synced_to_, write_at_);
}

void OutputJournal::sync_range(std::size_t from, std::size_t to) {
  if (active_.base == nullptr || to <= from) return;
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t start = from / page * page;
  if (::msync(active_.base + start, to - start, MS_SYNC) != 0) {
    BROOK_LOG(kWarn) << "journal " << dir_.string() << ": msync failed: " << errno_text(errno);
    return;
  }
  synced_to_ = std::max(synced_to_, to);
}

}  // namespace brook::detail
