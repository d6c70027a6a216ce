// Reading the YAML documents of a topology file.
//
// Not YAML::LoadAll: in yaml-cpp 0.7 it never returns when a document leaves its first token
// unread (a ',' outside brackets, e.g. the file ","): every call yields another empty document at
// the same place, until memory runs out.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>

namespace brook::detail {

struct YamlDocuments {
  YAML::Node first;       // the first document's root; null when there is none
  std::size_t count = 0;  // documents in the text
  YAML::Mark second;      // where the second document's root starts, when count > 1
};

// Throws YAML::ParserException on a syntax error, located like yaml-cpp's own (also for nesting
// deeper than yaml-cpp parses, which it reports as "bad file").
YamlDocuments load_documents(const std::string& text);

}  // namespace brook::detail
