// The store's thin layer over SQLite's C API, shared by RunStore (run_store.cpp) and the
// importer (run_import.cpp), each on its own connection: a prepared statement with typed
// binding and column reads, a transaction that rolls back when left by an exception, and the
// error message that names the database file. Internal to core/store: not for other rooms.
//
// Thread contract: as SQLite's connection (one thread at a time per connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"

namespace distill::sqlite {

// SQLite's message for the last error on `db`, naming the file ("database or disk is full"
// alone does not say which disk).
inline std::string errorMessage(sqlite3* db) {
  std::string message = std::string("SQLite: ") + sqlite3_errmsg(db);
  const char* file = sqlite3_db_filename(db, "main");
  if (file && *file) message += std::string(" (") + file + ")";
  return message;
}

// A prepared statement with positional binding (1-based) and typed column reads. Every failure
// throws StoreError(errorMessage()).
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) throw StoreError(errorMessage(db));
    statement_.reset(raw);
  }
  Statement& bind(int index, int64_t value) {
    check(sqlite3_bind_int64(statement_.get(), index, value));
    return *this;
  }
  Statement& bind(int index, double value) {
    check(sqlite3_bind_double(statement_.get(), index, value));
    return *this;
  }
  Statement& bind(int index, const std::string& value) {
    check(sqlite3_bind_text(statement_.get(), index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bindNull(int index) {
    check(sqlite3_bind_null(statement_.get(), index));
    return *this;
  }
  // The bytes of a vector, bound without a copy (they must outlive the step).
  template <typename T>
  Statement& bindBlob(int index, const std::vector<T>& values) {
    check(sqlite3_bind_blob64(statement_.get(), index, values.data(), values.size() * sizeof(T), SQLITE_STATIC));
    return *this;
  }
  // Copies a blob column into `out` when it holds exactly `count` values of T.
  template <typename T>
  bool blob(int column, size_t count, std::vector<T>& out) const {
    const void* data = sqlite3_column_blob(statement_.get(), column);
    const auto bytes = static_cast<size_t>(sqlite3_column_bytes(statement_.get(), column));
    if (bytes != count * sizeof(T) || (count > 0 && !data)) return false;
    out.resize(count);
    if (count > 0) std::memcpy(out.data(), data, bytes);
    return true;
  }
  // True while a row is available.
  bool step() {
    const int rc = sqlite3_step(statement_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(errorMessage(db_));
  }
  // Runs to the end, then resets the statement and its bindings for the next use; returns the
  // rows an INSERT, UPDATE or DELETE changed.
  int64_t run() {
    while (step()) {
    }
    const int64_t changed = sqlite3_changes64(db_);
    reset();
    return changed;
  }
  void reset() {
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
  }
  sqlite3_stmt* raw() const { return statement_.get(); }
  int64_t integer(int column) const { return sqlite3_column_int64(statement_.get(), column); }
  double real(int column) const { return sqlite3_column_double(statement_.get(), column); }
  bool isNull(int column) const { return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL; }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(statement_.get(), column));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(statement_.get(), column))) : std::string();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw StoreError(errorMessage(db_));
  }
  struct Finalize {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
  };
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> statement_;
};

// Runs SQL without rows or parameters ("DETACH DATABASE src").
inline void execute(sqlite3* db, const std::string& sql) { Statement(db, sql).run(); }

// BEGIN IMMEDIATE on construction; commits on commit(); rolls back when left without it (an
// exception).
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { execute(db_, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    execute(db_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace distill::sqlite
