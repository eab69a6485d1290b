// Test-only shorthand for aggregation specs.
#pragma once

#include <string>
#include <utility>

#include "index/aggregation.h"

namespace shale::index::testing {

// A spec named `name` of `kind` on `field`; other options keep their defaults.
inline AggregationSpec Spec(std::string name, AggregationKind kind, std::string field) {
  AggregationSpec spec;
  spec.name = std::move(name);
  spec.kind = kind;
  spec.field = std::move(field);
  return spec;
}

}  // namespace shale::index::testing
