#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace shale::internal {

CheckFailure::CheckFailure(const char* condition, const char* file, int line) {
  message_ << "check failed: " << condition << " at " << file << ":" << line << ": ";
}

CheckFailure::~CheckFailure() {
  std::fprintf(stderr, "%s\n", message_.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace shale::internal
