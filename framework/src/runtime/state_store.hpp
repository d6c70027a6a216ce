// A node's state store (Node::state; docs/reliability.md, "Exactly-once effects"): one SQLite
// database per instance holding
// - the node's tables of keyed state (kv),
// - its inbox: the sequence numbers of at-least-once messages it handled, per channel and
//   producer (one row per producer and commit), so a message re-sent after a crash is
//   recognised as handled by the next incarnation,
// - its outbox marks: per durable output, the journal sequence number up to which what the node
//   emitted is committed. Journal records beyond the mark were emitted by handler calls whose
//   commit never happened; the next incarnation discards them.
// The runtime groups the handler calls of a loop pass into one transaction (one commit, so one
// WAL write, per pass rather than per message). Changes wait in memory until the commit: a
// handler call's in a write set of its own, kept for the pass when it returns and dropped when
// it throws; reads see them. The SQLite transaction lasts only as long as commit().
//
// Durability follows the fsync policy: `always` syncs every commit (synchronous=FULL), `batch`
// survives a crash of the process at once and of the machine from the next checkpoint
// (synchronous=NORMAL in WAL mode), `never` leaves it to the kernel (OFF). The database is opened
// in exclusive locking mode: a second process of the same instance is refused.
//
// Reads are served from the write sets, then from a cache of committed values (16 MiB), then
// from SQLite. Bounds: the inbox keeps, per producer, the numbers within `keep` of the highest
// (what that producer may still re-send) and remembers kMaxProducers producers (the least recently
// used are forgotten: each non-durable producer incarnation is a new one). Not thread-safe: the
// loop's.
#pragma once

#include <brook/state.hpp>
#include <brook/topology.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace brook::detail {

class StateStore {
 public:
  static constexpr std::size_t kMaxProducers = 4096;
  static constexpr std::uint64_t kPruneEvery = 1024;  // inbox rows per producer between prunes
  // Committed values kept in memory for reads (emptied when full).
  static constexpr std::size_t kCacheBytes = 16 * 1024 * 1024;
  static constexpr std::size_t kCacheEntryOverhead = 64;

  // Opens or creates the database `file` (parent directories created); an empty path keeps it
  // in memory (brook::testing). Throws brook::Error naming the file and what to do.
  StateStore(std::filesystem::path file, FsyncPolicy fsync);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::filesystem::path& file() const noexcept { return file_; }
  // The table `name` (created on first use; handles stay valid as long as the store).
  StateTable& table(std::string_view name);

  // Whether changes wait for commit().
  bool in_transaction() const noexcept;
  // One handler call: end_call(true) keeps its changes for the commit, false drops them.
  void begin_call();
  void end_call(bool keep);
  // Part of the next commit: message `seq` of `producer` on `channel` was handled; the inbox
  // keeps that producer's numbers above its highest minus `keep`.
  void record_handled(std::string_view channel, std::string_view producer, std::uint64_t seq,
                      std::uint64_t keep);
  // Part of the next commit: durable output `port` committed every message below `next_seq`.
  void set_output_mark(std::string_view port, std::uint64_t next_seq);
  std::optional<std::uint64_t> output_mark(std::string_view port);
  // Deletes every outbox mark now (outside a commit).
  void forget_output_marks();
  // The inbox of `channel`: per producer, the numbers handled, ascending.
  std::map<std::string, std::vector<std::uint64_t>, std::less<>> handled(std::string_view channel);

  // Writes the changes in one transaction, durable per the fsync policy. On failure drops them
  // (as rollback()) and throws: BackpressureError for a full disk, brook::Error otherwise.
  void commit();
  // Drops every change since the last commit.
  void rollback() noexcept;

 private:
  class Table;

  // Tables' reads and writes: a write set's entry ("table\0key" -> value, nullopt: erased)
  // hides the committed row.
  const std::optional<std::string>* written(const std::string& key) const;
  void write(std::string key, std::optional<std::string> value);
  bool read(std::string_view table, std::string_view key, std::string* out);
  // read() through cache_, which holds committed values (and absences) of recent keys.
  bool read_committed(const std::string& k, std::string_view table, std::string_view key,
                      std::string& out);
  void remember(const std::string& k, std::optional<std::string> value);
  std::size_t count(std::string_view table);
  void write_changes();
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  // Runs a prepared statement to its end (a write); returns sqlite3_changes().
  int run(sqlite3_stmt* st);
  [[noreturn]] void fail(const std::string& what, int rc) const;
  void forget_old_producers();
  // Writes handled_now_ as inbox rows, prunes what the producers can no longer re-send and
  // stamps them as used by this commit.
  void write_handled();
  static void bind_producer(sqlite3_stmt* st, std::string_view channel, std::string_view producer);

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  bool open_ = false;  // an SQLite transaction, within commit()
  bool in_call_ = false;
  using Writes = std::map<std::string, std::optional<std::string>, std::less<>>;
  Writes call_writes_;  // of the handler call in progress
  Writes pass_writes_;  // kept since the last commit
  std::map<std::string, std::uint64_t, std::less<>> marks_;
  std::unordered_map<std::string, std::optional<std::string>> cache_;
  std::size_t cache_bytes_ = 0;
  std::vector<sqlite3_stmt*> statements_;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
  sqlite3_stmt* insert_handled_ = nullptr;
  sqlite3_stmt* handled_ = nullptr;
  sqlite3_stmt* prune_ = nullptr;
  sqlite3_stmt* used_ = nullptr;
  sqlite3_stmt* set_mark_ = nullptr;
  sqlite3_stmt* get_mark_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
  // Inbox rows added per "channel\0producer" since its last prune.
  std::map<std::string, std::uint64_t, std::less<>> since_prune_;
  // What the open transaction handled, per "channel\0producer": one inbox row each at commit.
  struct Handled {
    std::vector<std::uint64_t> seqs;
    std::uint64_t keep = 0;
  };
  std::map<std::string, Handled, std::less<>> handled_now_;
  std::vector<unsigned char> blob_;
  std::uint64_t commits_ = 0;
};

}  // namespace brook::detail
