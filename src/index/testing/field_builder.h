// Test-only shorthand for building doc mappings field by field.
#pragma once

#include <string>
#include <utility>

#include "index/doc_mapping.h"

namespace shale::index::testing {

// A field mapping with the given name and type; other options keep their defaults.
inline FieldMapping Field(std::string name, FieldType type, bool fast = false) {
  FieldMapping field;
  field.name = std::move(name);
  field.type = type;
  field.fast = fast;
  return field;
}

}  // namespace shale::index::testing
