// Payload used by the test nodes.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace brook::test {

struct TestMsg {
  static constexpr std::string_view kTypeName = "brook.test.Msg";
  std::uint64_t n = 0;     // 1-based index within the source's run
  std::string source;      // producer instance name
  std::string body;
  MSGPACK_DEFINE_MAP(n, source, body)
};

}  // namespace brook::test
