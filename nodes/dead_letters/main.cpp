// brook-dead-letters: stores every message of its input (a dead-letter channel) in a file that
// `brook dead ls|show|redrive` reads (framework/cli/dead_letter_file.hpp).
//   inputs {in: <dead-letter channel>}
//   params: store (path, relative to the current directory; default dead-letters.jsonl)
#include <brook/ids.hpp>
#include <brook/node.hpp>
#include <iostream>
#include <memory>

#include "dead_letter_file.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  std::unique_ptr<brook::cli::DeadLetterFile> store;
  try {
    store = std::make_unique<brook::cli::DeadLetterFile>(
        node.params().get<std::string>("store", "dead-letters.jsonl"), true);
  } catch (const brook::Error& e) {
    std::cerr << "brook-dead-letters: " << e.what() << "\n";
    return 2;
  }
  BROOK_LOG(kInfo) << "keeping dead letters in " << store->path().string() << " ("
                   << store->all().size() << " already there)";
  node.on("in", [&](const brook::Message& m) {
    const auto& e = m.envelope();
    brook::cli::DeadLetter d;
    d.producer = std::string(m.header("dead-letter-producer"));
    d.seq = std::strtoull(std::string(m.header("dead-letter-seq")).c_str(), nullptr, 10);
    if (d.producer.empty()) {  // not from a brook dead-lettering: keep it under its own id
      d.producer = std::string(e.id.producer);
      d.seq = e.id.seq;
    }
    d.channel = std::string(m.header("dead-letter-channel"));
    d.dead_channel = std::string(m.channel());
    d.type = std::string(m.type());
    if (auto k = m.key()) d.key = std::string(*k);
    e.for_each_header([&](std::string_view k, std::string_view v) {
      if (k.rfind("dead-letter-", 0) != 0) d.headers.emplace_back(std::string(k), std::string(v));
    });
    d.payload.assign(m.payload_bytes().begin(), m.payload_bytes().end());
    d.error = std::string(m.header("dead-letter-error"));
    d.attempts = static_cast<std::uint32_t>(
        std::strtoul(std::string(m.header("dead-letter-attempts")).c_str(), nullptr, 10));
    d.node = std::string(m.header("dead-letter-node"));
    d.received_ns = brook::wall_clock_ns();
    if (store->add(std::move(d)) != 0) {
      BROOK_LOG(kDebug) << "stored dead letter from " << m.header("dead-letter-channel");
    }
  });
  return node.run();
}
