#include "runtime/state_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <brook/error.hpp>
#include <brook/log.hpp>

namespace brook::detail {

namespace {

constexpr int kSchemaVersion = 1;

bool out_of_space(int rc) {
  return (rc & 0xff) == SQLITE_FULL;
}

// What to do about a file SQLite cannot read as a database.
std::string damaged_hint(int rc) {
  if ((rc & 0xff) != SQLITE_NOTADB && (rc & 0xff) != SQLITE_CORRUPT) return {};
  return " (hint: it is not a state store brook can read; move it aside to start this instance "
         "with empty state, which forgets what the instance kept and which messages it handled)";
}

// Sequence numbers are unsigned 64-bit; SQLite's integers are signed: stored as the same bits.
sqlite3_int64 to_db(std::uint64_t v) {
  return static_cast<sqlite3_int64>(v);
}

// The write sets' "table\0key" and the inbox's "channel\0producer".
std::string join_key(std::string_view a, std::string_view b) {
  std::string k(a);
  k += '\0';
  k += b;
  return k;
}
std::pair<std::string_view, std::string_view> split_key(std::string_view k) {
  const std::size_t sep = k.find('\0');
  return {k.substr(0, sep), k.substr(sep + 1)};
}

}  // namespace

class StateStore::Table final : public StateTable {
 public:
  Table(StateStore& store, std::string name) : store_(store), name_(std::move(name)) {}

  const std::string& name() const noexcept override { return name_; }

  bool get(std::string_view key, std::string& out) override {
    const std::string k = write_key(key);
    if (const std::optional<std::string>* w = store_.written(k)) {
      if (!*w) return false;
      out = **w;
      return true;
    }
    return store_.read_committed(k, name_, key, out);
  }

  void put(std::string_view key, std::span<const std::byte> value) override {
    store_.write(write_key(key),
                 std::string(reinterpret_cast<const char*>(value.data()), value.size()));
  }

  bool erase(std::string_view key) override {
    std::string ignored;
    const bool had = get(key, ignored);
    if (had) store_.write(write_key(key), std::nullopt);
    return had;
  }

  std::size_t size() override { return store_.count(name_); }

 private:
  std::string write_key(std::string_view key) const { return join_key(name_, key); }

  StateStore& store_;
  std::string name_;
};

StateStore::StateStore(std::filesystem::path file, FsyncPolicy fsync) : file_(std::move(file)) {
  if (!file_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(file_.parent_path(), ec);
    if (ec) {
      throw Error("state database " + file_.string() +
                  ": cannot create its directory: " + ec.message());
    }
  }
  const std::string name = file_.empty() ? std::string(":memory:") : file_.string();
  const int rc =
      sqlite3_open_v2(name.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error("state database " + name + ": cannot open: " + why);
  }
  try {
    // Exclusive: no other process may use the file while this one has it (and WAL then needs
    // no shared-memory file).
    exec("PRAGMA locking_mode=EXCLUSIVE");
    if (const int busy = sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr);
        busy != SQLITE_OK) {
      if ((busy & 0xff) == SQLITE_BUSY || (busy & 0xff) == SQLITE_LOCKED) {
        throw Error("state database " + name +
                    " is in use by another process: is this node instance already running? "
                    "Each instance keeps its own state");
      }
      fail("locking", busy);
    }
    exec("COMMIT");
    exec("PRAGMA journal_mode=WAL");
    exec(fsync == FsyncPolicy::kAlways  ? "PRAGMA synchronous=FULL"
         : fsync == FsyncPolicy::kBatch ? "PRAGMA synchronous=NORMAL"
                                        : "PRAGMA synchronous=OFF");
    sqlite3_stmt* version = prepare("PRAGMA user_version");
    int v = 0;
    if (sqlite3_step(version) == SQLITE_ROW) v = sqlite3_column_int(version, 0);
    sqlite3_reset(version);
    if (v > kSchemaVersion) {
      throw Error("state database " + name + " was written by a newer brook (schema " +
                  std::to_string(v) + ", this one reads " + std::to_string(kSchemaVersion) + ")");
    }
    exec("BEGIN");
    exec(
        "CREATE TABLE IF NOT EXISTS kv(tbl TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
        " PRIMARY KEY(tbl, key)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS inbox(channel TEXT NOT NULL, producer TEXT NOT NULL,"
        " last_seq INTEGER NOT NULL, seqs BLOB NOT NULL,"
        " PRIMARY KEY(channel, producer, last_seq)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS producers(channel TEXT NOT NULL, producer TEXT NOT NULL,"
        " used INTEGER NOT NULL, PRIMARY KEY(channel, producer)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS outbox(port TEXT PRIMARY KEY NOT NULL,"
        " next_seq INTEGER NOT NULL)");
    exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
    exec("COMMIT");
    get_ = prepare("SELECT value FROM kv WHERE tbl=?1 AND key=?2");
    put_ = prepare(
        "INSERT INTO kv(tbl, key, value) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(tbl, key) DO UPDATE SET value=excluded.value");
    erase_ = prepare("DELETE FROM kv WHERE tbl=?1 AND key=?2");
    count_ = prepare("SELECT count(*) FROM kv WHERE tbl=?1");
    insert_handled_ = prepare(
        "INSERT OR REPLACE INTO inbox(channel, producer, last_seq, seqs) VALUES(?1, ?2, ?3, ?4)");
    handled_ = prepare("SELECT producer, seqs FROM inbox WHERE channel=?1");
    prune_ = prepare("DELETE FROM inbox WHERE channel=?1 AND producer=?2 AND last_seq<=?3");
    begin_ = prepare("BEGIN");
    commit_ = prepare("COMMIT");
    used_ = prepare(
        "INSERT INTO producers(channel, producer, used) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(channel, producer) DO UPDATE SET used=excluded.used");
    set_mark_ = prepare(
        "INSERT INTO outbox(port, next_seq) VALUES(?1, ?2)"
        " ON CONFLICT(port) DO UPDATE SET next_seq=excluded.next_seq");
    get_mark_ = prepare("SELECT next_seq FROM outbox WHERE port=?1");
    sqlite3_stmt* last = prepare("SELECT coalesce(max(used), 0) FROM producers");
    if (sqlite3_step(last) == SQLITE_ROW) {
      commits_ = static_cast<std::uint64_t>(sqlite3_column_int64(last, 0));
    }
    sqlite3_reset(last);
    forget_old_producers();
  } catch (...) {
    for (sqlite3_stmt* st : statements_)
      sqlite3_finalize(st);
    sqlite3_close(db_);
    throw;
  }
}

StateStore::~StateStore() {
  rollback();
  for (sqlite3_stmt* st : statements_)
    sqlite3_finalize(st);
  sqlite3_close(db_);
}

void StateStore::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return;
  const std::string why = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (out_of_space(rc)) {
    throw BackpressureError("state database " + file_.string() + ": " + why +
                            "; the node takes messages again once there is room");
  }
  throw Error("state database " + file_.string() + ": " + sql + ": " + why + damaged_hint(rc));
}

sqlite3_stmt* StateStore::prepare(const char* sql) {
  sqlite3_stmt* st = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) fail(std::string("preparing ") + sql, rc);
  statements_.push_back(st);
  return st;
}

int StateStore::run(sqlite3_stmt* st) {
  const int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) fail("writing", rc);
  return sqlite3_changes(db_);
}

void StateStore::fail(const std::string& what, int rc) const {
  const std::string text = "state database " + file_.string() + ": " + what + ": " +
                           (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  if (out_of_space(rc)) {
    throw BackpressureError(text + "; the node takes messages again once there is room");
  }
  throw Error(text + damaged_hint(rc));
}

StateTable& StateStore::table(std::string_view name) {
  auto it = tables_.find(name);
  if (it == tables_.end()) {
    it =
        tables_.emplace(std::string(name), std::make_unique<Table>(*this, std::string(name))).first;
  }
  return *it->second;
}

const std::optional<std::string>* StateStore::written(const std::string& key) const {
  if (in_call_) {
    if (const auto it = call_writes_.find(key); it != call_writes_.end()) return &it->second;
  }
  const auto it = pass_writes_.find(key);
  return it != pass_writes_.end() ? &it->second : nullptr;
}

void StateStore::write(std::string key, std::optional<std::string> value) {
  (in_call_ ? call_writes_ : pass_writes_).insert_or_assign(std::move(key), std::move(value));
}

bool StateStore::read_committed(const std::string& k, std::string_view table, std::string_view key,
                                std::string& out) {
  if (const auto it = cache_.find(k); it != cache_.end()) {
    if (!it->second) return false;
    out = *it->second;
    return true;
  }
  const bool found = read(table, key, &out);
  remember(k, found ? std::optional<std::string>(out) : std::nullopt);
  return found;
}

void StateStore::remember(const std::string& k, std::optional<std::string> value) {
  const std::size_t size = k.size() + (value ? value->size() : 0) + kCacheEntryOverhead;
  if (size > kCacheBytes / 16) {
    // Too big to be worth it: make sure no older value is served instead.
    if (const auto it = cache_.find(k); it != cache_.end()) {
      cache_bytes_ -=
          it->first.size() + (it->second ? it->second->size() : 0) + kCacheEntryOverhead;
      cache_.erase(it);
    }
    return;
  }
  // Full: start again (a bound, not a policy: the keys in use come back at once).
  if (cache_bytes_ + size > kCacheBytes) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  auto [it, fresh] = cache_.try_emplace(k);
  if (!fresh) {
    cache_bytes_ -= it->first.size() + (it->second ? it->second->size() : 0) + kCacheEntryOverhead;
  }
  it->second = std::move(value);
  cache_bytes_ += size;
}

bool StateStore::read(std::string_view table, std::string_view key, std::string* out) {
  sqlite3_bind_text(get_, 1, table.data(), static_cast<int>(table.size()), SQLITE_STATIC);
  sqlite3_bind_blob(get_, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  const int rc = sqlite3_step(get_);
  bool found = false;
  if (rc == SQLITE_ROW) {
    if (out != nullptr) {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(get_, 0));
      out->assign(data == nullptr ? "" : data,
                  static_cast<std::size_t>(sqlite3_column_bytes(get_, 0)));
    }
    found = true;
  }
  sqlite3_reset(get_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail("reading state '" + std::string(table) + "'", rc);
  return found;
}

std::size_t StateStore::count(std::string_view table) {
  sqlite3_bind_text(count_, 1, table.data(), static_cast<int>(table.size()), SQLITE_STATIC);
  const int rc = sqlite3_step(count_);
  auto n = static_cast<std::int64_t>(rc == SQLITE_ROW ? sqlite3_column_int64(count_, 0) : 0);
  sqlite3_reset(count_);
  if (rc != SQLITE_ROW) fail("counting state '" + std::string(table) + "'", rc);
  // What the pass (and the call) changed, against what is committed.
  std::map<std::string_view, bool> now;  // key -> has a value
  auto note = [&](const std::map<std::string, std::optional<std::string>, std::less<>>& writes) {
    for (const auto& [k, v] : writes) {
      const auto [in, key] = split_key(k);
      if (in == table) now.insert_or_assign(key, v.has_value());
    }
  };
  note(pass_writes_);
  if (in_call_) note(call_writes_);
  for (const auto& [key, has] : now) {
    const bool committed = read(table, key, nullptr);
    n += (has ? 1 : 0) - (committed ? 1 : 0);
  }
  return static_cast<std::size_t>(n);
}

bool StateStore::in_transaction() const noexcept {
  return !pass_writes_.empty() || !handled_now_.empty() || !marks_.empty() ||
         (in_call_ && !call_writes_.empty());
}

void StateStore::begin_call() {
  call_writes_.clear();
  in_call_ = true;
}

void StateStore::end_call(bool keep) {
  if (!in_call_) return;
  in_call_ = false;
  if (keep) {
    for (auto& [k, v] : call_writes_)
      pass_writes_.insert_or_assign(k, std::move(v));
  }
  call_writes_.clear();
}

void StateStore::record_handled(std::string_view channel, std::string_view producer,
                                std::uint64_t seq, std::uint64_t keep) {
  std::string key = join_key(channel, producer);
  auto it = handled_now_.find(key);
  if (it == handled_now_.end()) it = handled_now_.emplace(std::move(key), Handled{}).first;
  it->second.seqs.push_back(seq);
  it->second.keep = keep;
}

void StateStore::write_changes() {
  for (const auto& [k, v] : pass_writes_) {
    const auto [table, key] = split_key(k);
    sqlite3_stmt* st = v ? put_ : erase_;
    sqlite3_bind_text(st, 1, table.data(), static_cast<int>(table.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    if (v) sqlite3_bind_blob(st, 3, v->data(), static_cast<int>(v->size()), SQLITE_STATIC);
    (void)run(st);
  }
  for (const auto& [port, next_seq] : marks_) {
    sqlite3_bind_text(set_mark_, 1, port.data(), static_cast<int>(port.size()), SQLITE_STATIC);
    sqlite3_bind_int64(set_mark_, 2, to_db(next_seq));
    (void)run(set_mark_);
  }
}

void StateStore::write_handled() {
  if (handled_now_.empty()) return;
  ++commits_;  // the producers' `used` stamp
  for (auto& [key, h] : handled_now_) {
    const auto [channel, producer] = split_key(key);
    std::sort(h.seqs.begin(), h.seqs.end());
    // One row per producer and commit: the numbers as little-endian u64s, keyed by the last.
    blob_.resize(h.seqs.size() * 8);
    for (std::size_t i = 0; i < h.seqs.size(); ++i) {
      for (int b = 0; b < 8; ++b)
        blob_[i * 8 + b] = static_cast<unsigned char>(h.seqs[i] >> (8 * b));
    }
    const std::uint64_t last = h.seqs.back();
    bind_producer(insert_handled_, channel, producer);
    sqlite3_bind_int64(insert_handled_, 3, to_db(last));
    sqlite3_bind_blob(insert_handled_, 4, blob_.data(), static_cast<int>(blob_.size()),
                      SQLITE_STATIC);
    (void)run(insert_handled_);
    auto since = since_prune_.find(key);
    if (since == since_prune_.end()) {
      // A bound on the counters, not on the inbox: a producer forgotten here is pruned later.
      if (since_prune_.size() >= kMaxProducers) since_prune_.clear();
      since = since_prune_.emplace(key, 0).first;
    }
    since->second += h.seqs.size();
    if (since->second >= kPruneEvery && last > h.keep) {
      since->second = 0;
      bind_producer(prune_, channel, producer);
      sqlite3_bind_int64(prune_, 3, to_db(last - h.keep));
      (void)run(prune_);
    }
    bind_producer(used_, channel, producer);
    sqlite3_bind_int64(used_, 3, to_db(commits_));
    (void)run(used_);
  }
  handled_now_.clear();
}

void StateStore::bind_producer(sqlite3_stmt* st, std::string_view channel,
                               std::string_view producer) {
  sqlite3_bind_text(st, 1, channel.data(), static_cast<int>(channel.size()), SQLITE_STATIC);
  sqlite3_bind_text(st, 2, producer.data(), static_cast<int>(producer.size()), SQLITE_STATIC);
}

void StateStore::set_output_mark(std::string_view port, std::uint64_t next_seq) {
  marks_.insert_or_assign(std::string(port), next_seq);
}

std::optional<std::uint64_t> StateStore::output_mark(std::string_view port) {
  sqlite3_bind_text(get_mark_, 1, port.data(), static_cast<int>(port.size()), SQLITE_STATIC);
  const int rc = sqlite3_step(get_mark_);
  std::optional<std::uint64_t> mark;
  if (rc == SQLITE_ROW) mark = static_cast<std::uint64_t>(sqlite3_column_int64(get_mark_, 0));
  sqlite3_reset(get_mark_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail("reading the outbox", rc);
  return mark;
}

void StateStore::forget_output_marks() {
  exec("DELETE FROM outbox");
}

std::map<std::string, std::vector<std::uint64_t>, std::less<>> StateStore::handled(
    std::string_view channel) {
  std::map<std::string, std::vector<std::uint64_t>, std::less<>> out;
  sqlite3_bind_text(handled_, 1, channel.data(), static_cast<int>(channel.size()), SQLITE_STATIC);
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(handled_)) == SQLITE_ROW) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(handled_, 0));
    const std::string producer(p == nullptr ? "" : p,
                               static_cast<std::size_t>(sqlite3_column_bytes(handled_, 0)));
    const auto* blob = static_cast<const unsigned char*>(sqlite3_column_blob(handled_, 1));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(handled_, 1));
    std::vector<std::uint64_t>& seqs = out[producer];
    for (std::size_t i = 0; blob != nullptr && i + 8 <= size; i += 8) {
      std::uint64_t v = 0;
      for (int b = 7; b >= 0; --b)
        v = (v << 8) | blob[i + static_cast<std::size_t>(b)];
      seqs.push_back(v);
    }
  }
  sqlite3_reset(handled_);
  if (rc != SQLITE_DONE) fail("reading the inbox", rc);
  for (auto& [producer, seqs] : out) {
    std::sort(seqs.begin(), seqs.end());
    seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  }
  return out;
}

void StateStore::commit() {
  if (!in_transaction()) return;
  try {
    (void)run(begin_);
    open_ = true;
    write_changes();
    write_handled();
    (void)run(commit_);
  } catch (...) {
    rollback();
    throw;
  }
  open_ = false;
  for (auto& [k, v] : pass_writes_)
    remember(k, std::move(v));  // now the committed value
  pass_writes_.clear();
  marks_.clear();
  if (commits_ % kPruneEvery != 0 || commits_ == 0) return;
  try {
    forget_old_producers();
  } catch (const std::exception& e) {
    // The commit stands; the inbox is only larger than it needs to be until the next try.
    BROOK_LOG(kWarn) << e.what();
  }
}

void StateStore::rollback() noexcept {
  handled_now_.clear();
  pass_writes_.clear();
  call_writes_.clear();
  marks_.clear();
  in_call_ = false;
  if (!open_) return;
  open_ = false;
  // Fails only when SQLite already rolled back (after an I/O error): nothing is left open.
  (void)sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void StateStore::forget_old_producers() {
  // Its own small transaction, between the loop's: what the inbox forgets here is only
  // de-duplication of producers no message came from for kMaxProducers others.
  const std::string offset = std::to_string(kMaxProducers);
  exec("BEGIN");
  try {
    exec(("DELETE FROM inbox WHERE (channel, producer) IN (SELECT channel, producer FROM "
          "producers ORDER BY used DESC LIMIT -1 OFFSET " +
          offset + ")")
             .c_str());
    exec(("DELETE FROM producers WHERE (channel, producer) IN (SELECT channel, producer FROM "
          "producers ORDER BY used DESC LIMIT -1 OFFSET " +
          offset + ")")
             .c_str());
    exec("COMMIT");
  } catch (...) {
    (void)sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace brook::detail
