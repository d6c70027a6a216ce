// The parser behind PayloadDecoder: one complete msgpack value into msgpack-cxx's object tree,
// the objects in the caller's zone, strings, binaries and extensions referencing the input.
//
// Not msgpack-cxx's own parser: that one is a resumable state machine for streams (any byte may
// end a read) calling a visitor per value; for the bench's {seq, t_ns, body} payload it took
// ~480 instructions, this loop over one complete buffer ~300 (callgrind, relay main thread;
// docs/bench.md). What it builds is what msgpack-cxx's unpack() builds, value for value (the
// fuzz target compares the two), so `as<T>()` and `convert()` work on it unchanged.
//
// Bounded: nesting by Limits::max_depth (an explicit stack, no recursion), elements of
// an array or map by Limits::max_elements (a map's pairs by half of it), a string, binary or
// extension by Limits::max_message_size and the payload's length; a count is checked against the
// bytes left before anything is allocated for it (an array of n elements needs n bytes, a map of n
// pairs 2n). Nothing is allocated per payload beyond the zone's chunks, which zone::clear() keeps.
#pragma once

#include <brook/envelope_codec.hpp>
#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>
#include <span>
#include <vector>

namespace brook::detail {

struct PayloadCursor;  // payload_parser.cpp

class PayloadParser {
 public:
  explicit PayloadParser(const Limits& limits);

  // Parses exactly one value filling `bytes` into `zone` (which the caller cleared or not) and
  // `out`. kTruncated when the bytes end inside it, kTrailingBytes when bytes follow it,
  // kLimitExceeded past a limit, kBadPayload for the reserved byte 0xc1. On failure `out` is
  // unspecified. Throws what the zone throws (std::bad_alloc).
  DecodeStatus parse(std::span<const std::byte> bytes, msgpack::zone& zone, msgpack::object& out);

 private:
  friend struct PayloadCursor;
  // An open array or map: its slots (a map's are key, value, key, ...) and the next one to fill.
  struct Open {
    msgpack::object* items = nullptr;     // array
    msgpack::object_kv* pairs = nullptr;  // map
    std::uint32_t slots = 0;
    std::uint32_t next = 0;
    msgpack::object* slot(std::uint32_t i) const noexcept {
      if (items != nullptr) return &items[i];
      return (i & 1) == 0 ? &pairs[i / 2].key : &pairs[i / 2].val;
    }
  };

  // One value's header (and a scalar's data) into `o`; a container with elements is pushed.
  DecodeErrc value(PayloadCursor& c, msgpack::object& o, msgpack::zone& zone);
  DecodeErrc open(PayloadCursor& c, msgpack::object& o, std::uint64_t n, bool map,
                  std::size_t header, msgpack::zone& zone);
  void push(PayloadCursor& c, const Open& o);

  std::uint32_t max_depth_;
  std::size_t max_elements_;
  std::size_t max_bytes_;   // of a string, binary or extension: Limits::max_message_size
  std::vector<Open> open_;  // the stack parse() works in: 64 levels, more when a payload needs
};

}  // namespace brook::detail
