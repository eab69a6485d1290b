// Status propagation macros. Abseil 20220623 has none, so these mirror the meaning of
// abseil's later RETURN_IF_ERROR / ASSIGN_OR_RETURN.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SHALE_STATUS_CONCAT_INNER(a, b) a##b
#define SHALE_STATUS_CONCAT(a, b) SHALE_STATUS_CONCAT_INNER(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if it is not ok.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::absl::Status shale_status_ = (expr);            \
    if (!shale_status_.ok()) return shale_status_;    \
  } while (false)

// Evaluates `expr` (an absl::StatusOr<T>); on error returns its status, else moves the value
// into `lhs` (which may be a declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  SHALE_ASSIGN_OR_RETURN_IMPL(SHALE_STATUS_CONCAT(shale_statusor_, __LINE__), lhs, expr)

#define SHALE_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
