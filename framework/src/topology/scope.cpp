#include "topology/scope.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>

#include "topology/yaml_documents.hpp"

namespace brook::detail {

namespace {

int line_count(std::string_view text) {
  const auto breaks = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  return breaks + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

bool block_map(const YAML::Node& n) {
  return n.IsMap() && n.Style() != YAML::EmitterStyle::Flow;
}

// The entries of one section, each from its key's line to the line before the next key (the last
// one to `end`). False when they are not one entry per line range.
bool index_section(const YAML::Node& section, int key_line, int end, std::string_view text,
                   std::map<std::string, LineRange, std::less<>>& out) {
  if (section.IsNull()) return true;  // `nodes:` with nothing under it
  if (!block_map(section)) return false;
  std::vector<std::pair<int, std::string>> entries;
  for (auto it = section.begin(); it != section.end(); ++it) {
    if (!it->first.IsScalar()) return false;
    entries.emplace_back(it->first.Mark().line + 1, it->first.Scalar());
  }
  int previous = key_line;
  for (const auto& [line, name] : entries) {
    if (line <= previous) return false;  // not in file order, or two on a line
    previous = line;
  }
  if (!entries.empty() && entries.back().first > end) return false;
  // An anchor in a blanked entry could be what a kept one refers to (*name): rather than track
  // which, such files are read whole.
  std::size_t begin = 0;
  for (int line = 1; line <= end && begin <= text.size(); ++line) {
    const std::size_t stop = std::min(text.find('\n', begin), text.size());
    if (line > key_line && text.substr(begin, stop - begin).find('&') != std::string_view::npos) {
      return false;
    }
    begin = stop + 1;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int last = i + 1 < entries.size() ? entries[i + 1].first - 1 : end;
    if (!out.emplace(entries[i].second, LineRange{entries[i].first, last}).second) return false;
  }
  return true;
}

void add_range(std::vector<LineRange>& ranges, LineRange r) {
  if (!ranges.empty() && ranges.back().second + 1 >= r.first) {
    ranges.back().second = std::max(ranges.back().second, r.second);
  } else {
    ranges.push_back(r);
  }
}

char hex_digit(unsigned v) {
  return static_cast<char>(v < 10 ? '0' + v : 'a' + (v - 10));
}

}  // namespace

std::uint64_t scope_hash(std::string_view text) noexcept {
  // FNV-1a's steps over 8 bytes at a time (a byte at a time was ~2 % of a node's start): a
  // change detector, not a defence; every node computes it over the whole file.
  constexpr std::uint64_t kPrime = 1099511628211ull;
  std::uint64_t h = 14695981039346656037ull ^ text.size();
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + i, sizeof word);
    h = (h ^ word) * kPrime;
    h ^= h >> 29;
  }
  for (; i < text.size(); ++i)
    h = (h ^ static_cast<unsigned char>(text[i])) * kPrime;
  return h;
}

std::optional<ScopeIndex> index_scope(const std::string& text) {
  YamlDocuments docs;
  try {
    docs = load_documents(text);
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  if (docs.count != 1 || !block_map(docs.first)) return std::nullopt;
  const YAML::Node& root = docs.first;
  std::vector<int> top;  // every top-level key's line
  for (auto it = root.begin(); it != root.end(); ++it)
    top.push_back(it->first.Mark().line + 1);
  std::sort(top.begin(), top.end());
  ScopeIndex index;
  index.hash = scope_hash(text);
  const int lines = line_count(text);
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    if (key != "nodes" && key != "channels") continue;
    const int key_line = it->first.Mark().line + 1;
    const auto next = std::upper_bound(top.begin(), top.end(), key_line);
    const int end = next == top.end() ? lines : *next - 1;
    if (!index_section(it->second, key_line, end, text,
                       key == "nodes" ? index.nodes : index.channels)) {
      return std::nullopt;
    }
  }
  return index;
}

std::map<std::string, std::string> scope_values(const Topology& t, const ScopeIndex& index) {
  std::map<std::string, std::vector<const NodeSpec*>, std::less<>> readers;
  for (const auto& n : t.nodes) {
    for (const auto& p : n.inputs)
      readers[p.channel].push_back(&n);
  }
  std::map<std::string, const ChannelSpec*, std::less<>> channels;
  for (const auto& c : t.channels)
    channels.emplace(c.name, &c);

  char hash[16];
  for (int i = 0; i < 16; ++i)
    hash[i] = hex_digit(static_cast<unsigned>(index.hash >> (60 - 4 * i)) & 0xf);

  // Every entry in file order, so that each node's blank ranges come out sorted and merged in
  // one pass (a thousand nodes, each with a thousand entries to skip or keep).
  struct Entry {
    LineRange range;
    std::string_view name;
    bool is_node;
  };
  std::vector<Entry> entries;
  for (const auto& [name, range] : index.nodes)
    entries.push_back({range, name, true});
  for (const auto& [name, range] : index.channels)
    entries.push_back({range, name, false});
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.range < b.range; });

  std::map<std::string, std::string> out;
  for (const auto& n : t.nodes) {
    std::set<std::string_view> kept_channels;
    std::set<std::string_view> consumed;  // channels it writes: their readers are its groups
    for (const auto& p : n.inputs) {
      kept_channels.insert(p.channel);
      const auto c = channels.find(p.channel);
      if (c != channels.end() && !c->second->dead_letter.empty()) {
        kept_channels.insert(c->second->dead_letter);
        consumed.insert(c->second->dead_letter);
      }
    }
    for (const auto& p : n.outputs) {
      kept_channels.insert(p.channel);
      consumed.insert(p.channel);
    }
    std::set<std::string_view> kept_nodes{n.name};
    for (const auto& c : consumed) {
      if (const auto r = readers.find(c); r != readers.end()) {
        for (const NodeSpec* reader : r->second)
          kept_nodes.insert(reader->name);
      }
    }
    // Every kept entry must be one the index knows (a name made by substitution is not).
    const auto known = [](const auto& names, const auto& indexed) {
      return std::all_of(names.begin(), names.end(),
                         [&](std::string_view name) { return indexed.count(name) > 0; });
    };
    if (!known(kept_nodes, index.nodes) || !known(kept_channels, index.channels)) continue;
    std::vector<LineRange> merged;
    for (const auto& [range, name, is_node] : entries) {
      if (!(is_node ? kept_nodes : kept_channels).count(name)) add_range(merged, range);
    }
    std::string value = n.name + ":" + std::string(hash, sizeof hash) + ":";
    for (std::size_t i = 0; i < merged.size(); ++i) {
      value += (i == 0 ? "" : ",") + std::to_string(merged[i].first);
      if (merged[i].second != merged[i].first) value += "-" + std::to_string(merged[i].second);
    }
    out.emplace(n.name, std::move(value));
  }
  return out;
}

std::optional<TopologyScope> parse_scope(std::string_view value) {
  const auto c1 = value.find(':');
  if (c1 == std::string_view::npos || c1 == 0) return std::nullopt;
  const auto c2 = value.find(':', c1 + 1);
  if (c2 != c1 + 17) return std::nullopt;
  TopologyScope s;
  s.node = std::string(value.substr(0, c1));
  const char* h = value.data() + c1 + 1;
  if (auto r = std::from_chars(h, h + 16, s.hash, 16); r.ec != std::errc{} || r.ptr != h + 16) {
    return std::nullopt;
  }
  std::string_view rest = value.substr(c2 + 1);
  int previous = 0;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto dash = item.find('-');
    LineRange r;
    const std::string_view first = item.substr(0, dash);
    const std::string_view last = dash == std::string_view::npos ? first : item.substr(dash + 1);
    auto number = [](std::string_view s, int& v) {
      const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
      return !s.empty() && res.ec == std::errc{} && res.ptr == s.data() + s.size();
    };
    if (!number(first, r.first) || !number(last, r.second)) return std::nullopt;
    if (r.first <= previous || r.second < r.first) return std::nullopt;
    previous = r.second;
    s.blank.push_back(r);
  }
  return s;
}

std::string narrow_text(std::string_view text, const std::vector<LineRange>& blank) {
  std::string out;
  out.reserve(text.size());
  auto range = blank.begin();
  int line = 1;
  for (std::size_t begin = 0; begin < text.size(); ++line) {
    const std::size_t nl = text.find('\n', begin);
    const std::size_t stop = nl == std::string_view::npos ? text.size() : nl;
    while (range != blank.end() && range->second < line)
      ++range;
    if (range == blank.end() || line < range->first) out.append(text.substr(begin, stop - begin));
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    begin = nl + 1;
  }
  return out;
}

}  // namespace brook::detail
