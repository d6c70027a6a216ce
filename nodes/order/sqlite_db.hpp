// A small RAII layer over the SQLite C API: a connection and reusable prepared statements.
// Every failure throws SqliteError with SQLite's own message.
#pragma once

#include <brook/error.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace brook::shop {

class SqliteError : public Error {
 public:
  using Error::Error;
};

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQL's ?1. Text is copied by SQLite.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind_null(int index);
  // Advances: true while a row is available, false when done. Throws on error.
  bool step();
  // Runs to completion and resets (for statements without result rows).
  void run();
  // Makes the statement reusable and clears bindings.
  void reset() noexcept;

  std::int64_t column_int(int index) const;
  std::optional<std::int64_t> column_opt_int(int index) const;
  std::string column_text(int index) const;

 private:
  [[noreturn]] void fail(int rc) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when the scope ends, also on an exception, so it is reusable.
class StatementScope {
 public:
  explicit StatementScope(Statement& s) : s_(s) {}
  ~StatementScope() { s_.reset(); }
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;

 private:
  Statement& s_;
};

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // Opens (read-write also creates) the file; busy_timeout 5 s so writers can share it.
  explicit Database(const std::string& path, Mode mode = Mode::kReadWrite);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);  // one or more statements, no results
  Statement prepare(std::string_view sql);
  std::int64_t changes() const noexcept;
  sqlite3* handle() const noexcept { return db_; }

 private:
  friend class Transaction;
  sqlite3* db_ = nullptr;
  // Prepared once: a transaction per message should not re-parse its own BEGIN and COMMIT.
  Statement begin_;
  Statement commit_;
  Statement rollback_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace brook::shop
