// JSON string text for the lines brook writes by hand (JSON logs, span files), where building a
// document per line would cost an allocation per field.
#pragma once

#include <string>
#include <string_view>

namespace brook::detail {

// Appends `s` to `out` as the inside of a JSON string (quotes, backslashes, control characters
// escaped; bytes that are not UTF-8 become U+FFFD so a collector never rejects the line).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace brook::detail
