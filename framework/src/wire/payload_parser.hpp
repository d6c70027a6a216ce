// The msgpack parser behind PayloadDecoder, kept from one payload to the next.
//
// msgpack::unpack() builds a parse context and an object-building visitor for every call, and
// each reserves a std::vector for its nesting stack: two heap allocations per message. This
// parser is the same context and visitor (msgpack-cxx's own, from its v2 detail namespace,
// Debian's 4.x) built once; init() clears both stacks without giving their memory back, so a
// steady stream of payloads parses without allocating (the objects themselves go to the caller's
// zone, whose first chunk is kept by zone::clear()).
//
// Counts a peer declares stay bounded by the bytes that could hold them: an array of n elements
// needs at least n bytes, a map of n pairs 2n, so a larger count is refused before msgpack sizes
// anything for it (the visitor's fixed limits come on top).
#pragma once

#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>

namespace brook::detail {

class BoundedObjectVisitor : public msgpack::v2::detail::create_object_visitor {
 public:
  using create_object_visitor::create_object_visitor;

  void bound_by(std::size_t bytes) noexcept { bytes_ = bytes; }
  // Hide the base's: the parse context calls them on this type.
  bool start_array(std::uint32_t n) {
    if (n > bytes_) throw msgpack::array_size_overflow("array size overflow");
    return create_object_visitor::start_array(n);
  }
  bool start_map(std::uint32_t n) {
    if (n > bytes_ / 2 + 1) throw msgpack::map_size_overflow("map size overflow");
    return create_object_visitor::start_map(n);
  }

 private:
  std::size_t bytes_ = 0;
};

class PayloadParser : public msgpack::v2::detail::context<PayloadParser> {
 public:
  // Strings and binaries reference the input instead of being copied into the zone.
  explicit PayloadParser(const msgpack::unpack_limit& limit)
      : visitor_([](msgpack::type::object_type, std::size_t, void*) { return true; }, nullptr,
                 limit) {}

  // The context reaches the visitor through this.
  BoundedObjectVisitor& visitor() noexcept { return visitor_; }

  // Parses one object from data[0, len) into `zone`; `off` gets the bytes used. Throws
  // msgpack's exceptions for malformed input or an exceeded limit, returns PARSE_CONTINUE
  // for a truncated one.
  msgpack::parse_return parse(msgpack::zone& zone, const char* data, std::size_t len,
                              std::size_t& off, msgpack::object& out) {
    init();
    visitor_.set_zone(zone);
    visitor_.set_referenced(false);
    visitor_.bound_by(len);
    off = 0;
    const msgpack::parse_return r = execute(data, len, off);
    out = visitor_.data();
    return r;
  }

 private:
  BoundedObjectVisitor visitor_;
};

}  // namespace brook::detail
