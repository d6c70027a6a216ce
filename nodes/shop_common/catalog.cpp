#include "catalog.hpp"

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>

namespace brook::shop {

namespace {

constexpr std::array<std::string_view, 4> kColumns = {"sku", "name", "unit_cents", "stock"};

std::string located(const std::string& file, std::size_t line, const std::string& what) {
  return file + ":" + std::to_string(line) + ": " + what;
}

// Splits one CSV record. Returns nullopt on an unterminated quote.
std::optional<std::vector<std::string>> split_record(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return std::nullopt;
  for (auto& f : fields) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return fields;
}

template <class T>
std::optional<T> parse_int(const std::string& s) {
  T v{};
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

Catalog::Catalog(std::vector<CatalogItem> items) : items_(std::move(items)) {
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const CatalogItem& it = items_[i];
    if (it.sku.empty()) throw CatalogError("empty SKU");
    if (it.unit_cents < 0) throw CatalogError("SKU '" + it.sku + "': negative unit_cents");
    if (it.stock < 0) throw CatalogError("SKU '" + it.sku + "': negative stock");
    if (!index_.emplace(it.sku, i).second) throw CatalogError("duplicate SKU '" + it.sku + "'");
  }
}

const CatalogItem* Catalog::find(std::string_view sku) const {
  const auto it = index_.find(std::string(sku));
  return it == index_.end() ? nullptr : &items_[it->second];
}

bool Catalog::set_price(std::string_view sku, std::int64_t unit_cents) {
  if (unit_cents < 0) throw Error("negative price for SKU '" + std::string(sku) + "'");
  const auto it = index_.find(std::string(sku));
  if (it == index_.end()) return false;
  items_[it->second].unit_cents = unit_cents;
  return true;
}

Catalog parse_catalog(std::string_view text, const std::string& file) {
  std::vector<CatalogItem> items;
  std::unordered_map<std::string, std::size_t> seen;  // sku -> line, to name both lines
  std::array<std::size_t, kColumns.size()> col{};
  std::size_t width = 0;
  bool have_header = false;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (line.front() == '#') continue;
    const auto fields = split_record(line);
    if (!fields) throw CatalogError(located(file, line_no, "unterminated quote"));
    if (!have_header) {
      for (std::size_t c = 0; c < kColumns.size(); ++c) {
        std::size_t i = 0;
        while (i < fields->size() && (*fields)[i] != kColumns[c])
          ++i;
        if (i == fields->size()) {
          throw CatalogError(located(file, line_no,
                                     "header lacks column '" + std::string(kColumns[c]) +
                                         "' (expected sku,name,unit_cents,stock)"));
        }
        col[c] = i;
      }
      width = fields->size();
      have_header = true;
      continue;
    }
    if (fields->size() != width) {
      throw CatalogError(located(
          file, line_no,
          "expected " + std::to_string(width) + " fields, got " + std::to_string(fields->size())));
    }
    CatalogItem item;
    item.sku = (*fields)[col[0]];
    item.name = (*fields)[col[1]];
    if (item.sku.empty()) throw CatalogError(located(file, line_no, "empty sku"));
    const auto cents = parse_int<std::int64_t>((*fields)[col[2]]);
    if (!cents || *cents < 0) {
      throw CatalogError(
          located(file, line_no,
                  "unit_cents: expected a non-negative integer, got '" + (*fields)[col[2]] + "'"));
    }
    const auto stock = parse_int<std::int32_t>((*fields)[col[3]]);
    if (!stock || *stock < 0) {
      throw CatalogError(
          located(file, line_no,
                  "stock: expected a non-negative integer, got '" + (*fields)[col[3]] + "'"));
    }
    item.unit_cents = *cents;
    item.stock = *stock;
    if (const auto [it, fresh] = seen.emplace(item.sku, line_no); !fresh) {
      throw CatalogError(located(
          file, line_no,
          "duplicate SKU '" + item.sku + "' (first on line " + std::to_string(it->second) + ")"));
    }
    items.push_back(std::move(item));
  }
  if (!have_header) throw CatalogError(file + ": empty catalog (no header line)");
  return Catalog(std::move(items));
}

Catalog load_catalog(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw CatalogError(file.string() + ": cannot open catalog");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_catalog(text.str(), file.string());
}

std::filesystem::path resolve_near(const std::filesystem::path& topology_file,
                                   const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute() || topology_file.empty()) return p;
  return topology_file.parent_path() / p;
}

}  // namespace brook::shop
