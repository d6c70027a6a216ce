#include "support/cluster.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

namespace brook::test {

SinkReport read_report(const std::filesystem::path& file) {
  SinkReport r;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("END ", 0) == 0) {
      r.complete = true;
      break;
    }
    std::istringstream s(line);
    Received m;
    s >> m.source >> m.n >> m.seq;
    s >> m.key;
    r.messages.push_back(std::move(m));
  }
  return r;
}

Cluster::Cluster() = default;

Process& Cluster::start_directory(const std::string& bind, std::vector<std::string> extra) {
  std::vector<std::string> argv{bin("brook-directory"), "--bind", bind, "--log-level", "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  directory_ =
      Process::start({argv, {}, dir_ / ("directory-" + std::to_string(++log_counter_) + ".log")});
  directory_endpoint_ = directory_.ready_value("router");
  client_.reset();
  return directory_;
}

std::filesystem::path Cluster::write_topology(const std::string& yaml, const std::string& file) {
  std::string text = yaml;
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (auto pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
  };
  replace_all("{DIRECTORY}", directory_endpoint_);
  replace_all("{DIR}", dir_.path().string());
  topology_ = dir_.write(file, text);
  return topology_;
}

Process Cluster::start_node(const std::string& exe, const std::string& node, std::uint32_t instance,
                            std::vector<std::string> extra, bool wait_ready) {
  std::vector<std::string> argv{bin(exe),
                                "--topology",
                                topology_.string(),
                                "--node",
                                node,
                                "--instance",
                                std::to_string(instance),
                                "--directory",
                                directory_endpoint_,
                                "--log-level",
                                "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto log = dir_ / (node + "." + std::to_string(instance) + "-" +
                           std::to_string(++log_counter_) + ".log");
  Process::Options o{argv, {}, log};
  o.wait_ready = wait_ready;
  return Process::start(std::move(o));
}

void Cluster::kill_repeatedly(Process& victim, const std::string& exe, const std::string& node,
                              int kills, std::uint64_t total,
                              const std::function<std::uint64_t()>& progress,
                              const std::function<void(Process&)>& restarted) {
  for (int k = 1; k <= kills; ++k) {
    const std::uint64_t at = total * static_cast<std::uint64_t>(k) / (kills + 1);
    EXPECT_TRUE(wait_for([&] { return progress() >= at; }, 30s))
        << "kill " << k << ": progress " << progress() << " of " << at << "\n"
        << tail(victim.log_path());
    victim.signal(SIGKILL);
    EXPECT_TRUE(wait_for([&] { return !victim.running(); }, 10s));
    victim = start_node(exe, node);
    if (restarted) restarted(victim);
  }
}

DirectoryClient& Cluster::client() {
  if (!client_)
    client_ = std::make_unique<DirectoryClient>(directory_endpoint_, 1000ms, client_security_);
  return *client_;
}

std::uint64_t Cluster::counter(const std::string& node, const std::string& channel,
                               std::uint64_t ChannelCounters::*field) {
  std::uint64_t sum = 0;
  try {
    for (const auto& inst : client().list().instances) {
      if (inst.node != node) continue;
      auto it = inst.counters.channels.find(channel);
      if (it != inst.counters.channels.end()) sum += it->second.*field;
    }
  } catch (const Error&) {
    return 0;  // directory momentarily unavailable; callers poll
  }
  return sum;
}

std::set<std::string> Cluster::live_instances() {
  std::set<std::string> names;
  for (const auto& inst : client().list().instances) {
    names.insert(inst.node + "." + std::to_string(inst.instance));
  }
  return names;
}

}  // namespace brook::test
