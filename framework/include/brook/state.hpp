// brook::State<V> — a node's durable keyed state (Node::state, docs/reliability.md "Exactly-once
// effects"): string keys to values of type V, kept in an SQLite database in the instance's
// state directory.
//
//   auto baskets = node.state<Basket>("baskets");
//   node.on<Add>("in", [&](const Add& a) {
//     Basket b = baskets.get(a.basket).value_or(Basket{});
//     b.lines.push_back(a.line);
//     baskets.put(a.basket, b);
//   });
//
// What a handler changes commits together with the acknowledgement of the message it handled
// and with what it emitted: after a crash the node resumes from its last commit, re-sent
// messages it had committed are recognised and not handled again, and their outputs are not
// emitted twice. A handler that throws changes nothing. Loop thread only, like emit().
#pragma once

#include <brook/error.hpp>
#include <brook/type_name.hpp>
#include <cstddef>
#include <msgpack.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace brook {

namespace detail {
// One named table of the node's state store, which a State handle reads and writes through.
class StateTable {
 public:
  virtual ~StateTable() = default;
  virtual const std::string& name() const noexcept = 0;
  // The stored msgpack bytes of `key` into `out`; false when the key has no value.
  virtual bool get(std::string_view key, std::string& out) = 0;
  virtual void put(std::string_view key, std::span<const std::byte> value) = 0;
  // False when the key had no value.
  virtual bool erase(std::string_view key) = 0;
  virtual std::size_t size() = 0;
};
}  // namespace detail

template <class V>
class State {
 public:
  // Unbound: every call throws. Get a bound one from Node::state<V>(name).
  State() = default;

  // The value of `key`, or nullopt. Throws brook::Error when the stored value does not convert
  // to V (it was written as another type).
  std::optional<V> get(std::string_view key) const {
    std::string bytes;
    if (!table().get(key, bytes)) return std::nullopt;
    try {
      const msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
      return oh.get().as<V>();
    } catch (const std::exception& e) {
      throw Error("state '" + table().name() + "', key '" + std::string(key.substr(0, 128)) +
                  "': the stored value does not convert to " + std::string(type_name<V>()) + " (" +
                  e.what() + ")");
    }
  }
  bool contains(std::string_view key) const {
    std::string bytes;
    return table().get(key, bytes);
  }
  void put(std::string_view key, const V& value) const {
    msgpack::sbuffer buf;
    msgpack::pack(buf, value);
    table().put(key, {reinterpret_cast<const std::byte*>(buf.data()), buf.size()});
  }
  // False when the key had no value.
  bool erase(std::string_view key) const { return table().erase(key); }
  // How many keys have a value.
  std::size_t size() const { return table().size(); }

 private:
  friend class Node;
  explicit State(detail::StateTable& t) noexcept : table_(&t) {}
  detail::StateTable& table() const {
    if (table_ == nullptr) throw Error("brook::State used unbound: get it from node.state<V>()");
    return *table_;
  }

  detail::StateTable* table_ = nullptr;
};

}  // namespace brook
