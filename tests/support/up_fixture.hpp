// Test support: run `brook up` on a topology written into a temporary directory, and look at
// what it runs (its instances through `brook ls`, its processes through /proc).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {

class UpTest : public ::testing::Test {
 protected:
  // Writes the topology with {DIRECTORY} (a free fixed port: brook up starts the directory
  // there) and {DIR} replaced.
  std::filesystem::path topology(std::string yaml) {
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(free_port());
    for (auto [from, to] : {std::pair<std::string, std::string>{"{DIRECTORY}", endpoint_},
                            {"{DIR}", dir_.path().string()}}) {
      for (auto pos = yaml.find(from); pos != std::string::npos; pos = yaml.find(from, pos))
        yaml.replace(pos, from.size(), to);
    }
    file_ = dir_.write("topology.yaml", yaml);
    return file_;
  }

  Process up(std::vector<std::string> extra = {}, bool wait_ready = true) {
    std::vector<std::string> argv{bin("brook"), "up", file_.string(), "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process::start({.argv = argv,
                           .env = {},
                           .log = dir_ / ("up" + std::to_string(++runs_) + ".log"),
                           .wait_ready = wait_ready,
                           .ready_timeout = 30s});
  }

  nlohmann::json ls() {
    const auto r = run_command({bin("brook"), "ls", "--json", "--directory", endpoint_}, 10s);
    if (r.code != 0) return nlohmann::json::object();
    return nlohmann::json::parse(r.out);
  }

  std::map<std::string, int> pids() {
    std::map<std::string, int> out;
    const nlohmann::json l = ls();
    if (l.contains("instances")) {
      for (const auto& i : l["instances"])
        out[i["name"].get<std::string>()] = i["pid"].get<int>();
    }
    return out;
  }

  // Processes whose command line mentions our topology file (the directory and every node).
  std::set<int> processes_of_topology() {
    std::set<int> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      const std::string name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream f(e.path() / "cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(f)), {});
      // Nodes and the directory get "--topology FILE" from brook up; zombies have an empty
      // cmdline, so a match is a live process.
      if (cmdline.find(std::string("--topology") + '\0' + file_.string()) != std::string::npos)
        out.insert(std::stoi(name));
    }
    return out;
  }

  TempDir dir_;
  std::string endpoint_;
  std::filesystem::path file_;
  int runs_ = 0;
};

}  // namespace brook::test
