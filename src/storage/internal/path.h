// Path checks shared by the storage implementations. Private to src/storage/.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace shale::storage::internal {

// Checks a List() prefix: may be empty or end in '/', but must be relative and hold no ".."
// component. InvalidArgument naming the prefix otherwise.
absl::Status ValidateListPrefix(std::string_view prefix);

}  // namespace shale::storage::internal
