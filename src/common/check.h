// Always-on invariant checks. A failed check logs the condition, the location and the streamed
// explanation, then aborts. Corrupt input data is never a CHECK: return absl::DataLossError.
#pragma once

#include <sstream>

namespace shale::internal {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();

  std::ostream& stream() { return message_; }

 private:
  std::ostringstream message_;
};

// Turns the stream expression into void so the macro can be used in a ternary.
struct CheckVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace shale::internal

#define SHALE_CHECK(condition)                 \
  (condition) ? (void)0                        \
              : ::shale::internal::CheckVoidify() & \
                    ::shale::internal::CheckFailure(#condition, __FILE__, __LINE__).stream()

#ifdef NDEBUG
#define SHALE_DCHECK(condition) \
  while (false) SHALE_CHECK(condition)
#else
#define SHALE_DCHECK(condition) SHALE_CHECK(condition)
#endif
