// The control socket of a launch: one request per connection, JSON lines back, served by the
// launcher's reactor without blocking it; a malformed request costs its client, not the launch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <brook/error.hpp>
#include <filesystem>
#include <thread>

#include "launch/control_server.hpp"

namespace brook::launch {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ControlTest : public ::testing::Test {
 protected:
  ControlTest() {
    char tmpl[] = "/tmp/brook-control-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~ControlTest() override { fs::remove_all(dir_); }

  // Sends `request` from another thread while this one runs the loop; the lines answered.
  std::vector<json> ask(ControlServer&, const json& request) {
    std::vector<json> lines;
    std::atomic<bool> done{false};
    std::thread client([&] {
      control_request(dir_ / "control.sock", request, [&](const json& l) { lines.push_back(l); });
      done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < deadline)
      reactor_.run_once(std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
    client.join();
    return lines;
  }

  fs::path dir_;
  detail::Reactor reactor_;
};

TEST_F(ControlTest, AnswersEachRequestWithLinesAndClosesWhenDone) {
  ControlServer server(reactor_, dir_ / "control.sock",
                       [&](ControlServer::ConnId c, const json& r) {
                         if (r.value("op", "") == "explode") throw Error("no such thing");
                         server.send(c, {{"say", "working"}});
                         server.send(c, {{"ok", true}, {"op", r["op"]}});
                         server.finish(c);
                       });
  auto lines = ask(server, {{"op", "status"}});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["say"], "working");
  EXPECT_EQ(lines[1]["op"], "status");

  lines = ask(server, json::array({1, 2}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["error"], "a request is one JSON object on one line");

  lines = ask(server, {{"op", "explode"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["error"], "bad request: no such thing");

  // The loop is still serving.
  EXPECT_EQ(ask(server, {{"op", "again"}}).size(), 2u);
}

TEST_F(ControlTest, NobodyListeningIsANamedError) {
  try {
    control_request(dir_ / "control.sock", {{"op", "status"}}, [](const json&) {});
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach the launch at " +
                                         (dir_ / "control.sock").string()),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace brook::launch
