// Environment substitution over the whole YAML tree, before validation, so that values are
// interpreted by type after substitution (`replicas: ${N:-2}` is an integer).
#include "topology/substitution.hpp"

#include <unordered_set>
#include <variant>

namespace brook::detail {

namespace {

constexpr std::string_view kSyntaxHint = "write ${NAME}, ${NAME:-default}, or $$ for a literal $";

struct Failure {
  std::string message;
  std::string hint;
};

bool valid_variable(std::string_view name) {
  if (name.empty()) return false;
  auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!head(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!head(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Returns the substituted text, or the first problem found in it.
std::variant<std::string, Failure> expand(const std::string& text, const EnvLookup& env) {
  auto malformed = [&](const std::string& why) {
    return Failure{"malformed substitution in '" + text + "': " + why, std::string(kSyntaxHint)};
  };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 == text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out += text[i++];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) return malformed("'${' without a closing '}'");
    const std::string body = text.substr(i + 2, close - i - 2);
    const std::size_t sep = body.find(":-");
    const std::string name = body.substr(0, sep);
    if (name.empty()) return malformed("empty variable name");
    if (!valid_variable(name)) return malformed("invalid variable name '" + name + "'");
    const std::optional<std::string> value = env(name);
    if (sep != std::string::npos) {
      out += (value && !value->empty()) ? *value : body.substr(sep + 2);
    } else if (value) {
      out += *value;
    } else {
      return Failure{"environment variable " + name + " is not set",
                     "export " + name + "=... or write ${" + name + ":-default}"};
    }
    i = close + 1;
  }
  return out;
}

class Substituter {
 public:
  Substituter(const EnvLookup& env, DiagnosticSink& sink) : env_(env), sink_(sink) {}

  void visit(YAML::Node node) {
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it)
        visit(it->second);
    } else if (node.IsSequence()) {
      for (auto it = node.begin(); it != node.end(); ++it)
        visit(*it);
    } else if (node.IsScalar()) {
      rewrite(node);
    }
  }

 private:
  void rewrite(YAML::Node node) {
    // An aliased scalar is one node reachable twice; expanding it twice would undo "$$".
    if (!seen_.insert(node.Mark().pos).second) return;
    const std::string& text = node.Scalar();
    if (text.find('$') == std::string::npos) return;
    auto result = expand(text, env_);
    if (auto* failure = std::get_if<Failure>(&result)) {
      const SourceLocation where = sink_.where(node);
      sink_.error(where, std::move(failure->message), std::move(failure->hint));
      sink_.mute(where);
      return;
    }
    node = std::get<std::string>(result);
  }

  const EnvLookup& env_;
  DiagnosticSink& sink_;
  std::unordered_set<int> seen_;
};

}  // namespace

void substitute_env(YAML::Node root, const EnvLookup& env, DiagnosticSink& sink) {
  Substituter(env, sink).visit(root);
}

}  // namespace brook::detail
