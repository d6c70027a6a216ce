// Payload used by the test nodes.
#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <string_view>

namespace brook::test {

struct TestMsg {
  static constexpr std::string_view kTypeName = "brook.test.Msg";
  std::uint64_t n = 0;  // 1-based index within the source's run
  std::string source;   // producer instance name
  std::string body;
  MSGPACK_DEFINE_MAP(n, source, body)
};

// Request/reply test nodes (brook-test-asker, brook-test-server).
struct TestQuery {
  static constexpr std::string_view kTypeName = "brook.test.Query";
  std::uint64_t n = 0;
  std::string asker;  // instance name of the asking node
  MSGPACK_DEFINE_MAP(n, asker)
};

struct TestAnswer {
  static constexpr std::string_view kTypeName = "brook.test.Answer";
  std::uint64_t n = 0;
  std::string asker;   // copied from the query
  std::string server;  // instance name of the replica that answered
  MSGPACK_DEFINE_MAP(n, asker, server)
};

}  // namespace brook::test
