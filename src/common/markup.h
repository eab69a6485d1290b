// Escaping text for XML and HTML.
#pragma once

#include <string>
#include <string_view>

namespace shale {

// Appends `text` to `out` with & < > " ' as entities, safe inside XML and HTML text and
// attribute values (&apos; is XML's and HTML5's).
inline void AppendMarkupEscaped(std::string_view text, std::string& out) {
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
}

}  // namespace shale
