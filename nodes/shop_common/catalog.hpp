// The product catalog: a CSV file `sku,name,unit_cents,stock` shared by the client (to build
// valid and invalid baskets on purpose) and product (to resolve them).
#pragma once

#include <brook/error.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace brook::shop {

struct CatalogItem {
  std::string sku;
  std::string name;
  std::int64_t unit_cents = 0;
  std::int32_t stock = 0;  // the most one order line may ask for
};

// A malformed catalog; what() is "file:line: problem".
class CatalogError : public Error {
 public:
  using Error::Error;
};

class Catalog {
 public:
  Catalog() = default;
  // Throws CatalogError on a duplicate or empty SKU, a negative price or stock.
  explicit Catalog(std::vector<CatalogItem> items);

  const CatalogItem* find(std::string_view sku) const;
  // Items in file order.
  const std::vector<CatalogItem>& items() const noexcept { return items_; }
  std::size_t size() const noexcept { return items_.size(); }
  // Changes a price; false when the SKU is unknown. Throws brook::Error on a negative price.
  bool set_price(std::string_view sku, std::int64_t unit_cents);

 private:
  std::vector<CatalogItem> items_;
  std::unordered_map<std::string, std::size_t> index_;
};

// Parses CSV text with a header naming at least sku, name, unit_cents and stock (any order; other
// columns are ignored). Fields may be double-quoted with "" for a quote. `file` names the source
// in errors. Throws CatalogError "file:line: ..." for the first problem.
Catalog parse_catalog(std::string_view text, const std::string& file);
// Reads and parses a file; throws CatalogError if it cannot be read.
Catalog load_catalog(const std::filesystem::path& file);

// `path` as given when absolute, else relative to the directory of `topology_file` (or the
// current directory when that is empty): how topology params name data files.
std::filesystem::path resolve_near(const std::filesystem::path& topology_file,
                                   const std::string& path);

}  // namespace brook::shop
