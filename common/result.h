// Result<T>: a value or the error that prevented it.
//
//   Result<Chunk> ReadChunk(uint64_t id);
//
//   ASSIGN_OR_RETURN(Chunk chunk, ReadChunk(id), "while repairing " << id);
//   RETURN_IF_ERROR(store.Sync(), "while syncing chunk " << id);
//
// The macros return early with the error, optionally prefixed by a context
// message built with <<, so that a log line tells the whole story:
// "CHECKSUM_MISMATCH: while repairing 42: block 3 at offset 196608: ...".
#pragma once

#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>

#include "common/check.h"
#include "common/status.h"

namespace dfs {

// Holds either a T or a non-OK Status.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "use Status, not Result<Status>");
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported; use a pointer");

 public:
  // An error. REQUIRES: !status.ok() (a Result is never "OK without a value").
  Result(Status status) : status_(std::move(status)) {
    DFS_CHECK(!status_.ok()) << "Result<T> constructed from an OK Status";
  }

  // A value; implicit so that `return value;` works in a function returning
  // Result<T>.
  template <class U = T, std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                              !std::is_same_v<std::remove_cvref_t<U>, Status> &&
                                              !std::is_same_v<std::remove_cvref_t<U>, Result>,
                                          int> = 0>
  Result(U&& value) : value_(std::forward<U>(value)) {}

  // A value constructed in place from `args`.
  template <class... Args>
  explicit Result(std::in_place_t, Args&&... args)
      : value_(std::in_place, std::forward<Args>(args)...) {}

  bool ok() const { return status_.ok(); }

  // OK when there is a value.
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  // The value. REQUIRES: ok(); a check failure otherwise.
  T& value() & {
    CheckHasValue();
    return *value_;
  }
  const T& value() const& {
    CheckHasValue();
    return *value_;
  }
  T&& value() && {
    CheckHasValue();
    return std::move(*value_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value if ok(), else `fallback`.
  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return ok() ? std::move(*value_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void CheckHasValue() const { DFS_CHECK(ok()) << "value() of a failed Result: " << status_; }

  Status status_;  // OK exactly when value_ holds a value
  std::optional<T> value_;
};

namespace internal {

// The Status of what RETURN_IF_ERROR was given: a Status or a Result<T>.
inline const Status& StatusOf(const Status& status) {
  return status;
}
inline Status StatusOf(Status&& status) {
  return std::move(status);
}
template <class T>
const Status& StatusOf(const Result<T>& result) {
  return result.status();
}
template <class T>
Status StatusOf(Result<T>&& result) {
  return std::move(result).status();
}

}  // namespace internal
}  // namespace dfs

// RETURN_IF_ERROR(expr) or RETURN_IF_ERROR(expr, context << stream):
// evaluates expr (a Status or a Result<T>); if it failed, returns its Status
// from the current function (which returns Status or some Result<U>), with
// "context: " prefixed when a context is given. The context is only built on
// failure. Like any macro argument, expr must wrap top-level commas in ().
#define RETURN_IF_ERROR(...) \
  DFS_MACRO_SELECT_2_(__VA_ARGS__, DFS_RETURN_IF_ERROR_CTX_, DFS_RETURN_IF_ERROR_, )(__VA_ARGS__)

// ASSIGN_OR_RETURN(lhs, expr) or ASSIGN_OR_RETURN(lhs, expr, context << stream):
// evaluates expr (a Result<T>); on failure returns its Status as
// RETURN_IF_ERROR does, else moves the value into lhs, which may declare a
// variable: ASSIGN_OR_RETURN(auto chunk, ReadChunk(id)). Expands to several
// statements: do not use it as the body of an unbraced if or loop.
#define ASSIGN_OR_RETURN(...)                                                        \
  DFS_MACRO_SELECT_3_(__VA_ARGS__, DFS_ASSIGN_OR_RETURN_CTX_, DFS_ASSIGN_OR_RETURN_, \
                      DFS_MACRO_TOO_FEW_ARGUMENTS_, )                                \
  (__VA_ARGS__)

// Implementation details of the macros above.
#define DFS_MACRO_SELECT_2_(_1, _2, name, ...) name
#define DFS_MACRO_SELECT_3_(_1, _2, _3, name, ...) name
#define DFS_MACRO_CONCAT_INNER_(a, b) a##b
#define DFS_MACRO_CONCAT_(a, b) DFS_MACRO_CONCAT_INNER_(a, b)

#define DFS_RETURN_IF_ERROR_(expr)                                   \
  do {                                                               \
    ::dfs::Status dfs_rie_status_ = ::dfs::internal::StatusOf(expr); \
    if (!dfs_rie_status_.ok()) return dfs_rie_status_;               \
  } while (0)

#define DFS_RETURN_IF_ERROR_CTX_(expr, context)                                \
  do {                                                                         \
    ::dfs::Status dfs_rie_status_ = ::dfs::internal::StatusOf(expr);           \
    if (!dfs_rie_status_.ok()) {                                               \
      ::std::ostringstream dfs_rie_context_;                                   \
      dfs_rie_context_ << context;                                             \
      return ::std::move(dfs_rie_status_).WithContext(dfs_rie_context_.str()); \
    }                                                                          \
  } while (0)

#define DFS_ASSIGN_OR_RETURN_(lhs, expr) \
  DFS_ASSIGN_OR_RETURN_IMPL_(DFS_MACRO_CONCAT_(dfs_aor_result_, __COUNTER__), lhs, expr)

#define DFS_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr)    \
  auto result = (expr);                                  \
  if (!result.ok()) return ::std::move(result).status(); \
  lhs = ::std::move(result).value()

#define DFS_ASSIGN_OR_RETURN_CTX_(lhs, expr, context)                                        \
  DFS_ASSIGN_OR_RETURN_CTX_IMPL_(DFS_MACRO_CONCAT_(dfs_aor_result_, __COUNTER__), lhs, expr, \
                                 context)

#define DFS_ASSIGN_OR_RETURN_CTX_IMPL_(result, lhs, expr, context)           \
  auto result = (expr);                                                      \
  if (!result.ok()) {                                                        \
    ::std::ostringstream dfs_aor_context_;                                   \
    dfs_aor_context_ << context;                                             \
    return ::std::move(result).status().WithContext(dfs_aor_context_.str()); \
  }                                                                          \
  lhs = ::std::move(result).value()
