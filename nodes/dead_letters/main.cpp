// brook-dead-letters: stores every message of its input (a dead-letter channel) in a file that
// `brook dead ls|show|redrive` reads (framework/cli/dead_letter_file.hpp).
//   inputs {in: <dead-letter channel>}
//   params: store (path, relative to the current directory; default dead-letters.jsonl)
//           max_size (default 1GiB): beyond it, and on a full disk, letters are declined and
//           stay with their producers until the store is moved aside or there is room
#include <brook/ids.hpp>
#include <brook/node.hpp>
#include <brook/topology.hpp>
#include <iostream>
#include <memory>

#include "dead_letter_writer.hpp"

namespace {

brook::cli::DeadLetter to_dead_letter(const brook::Message& m) {
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
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto max_size_text = node.params().get<std::string>("max_size", "1GiB");
  const auto max_size = brook::parse_size(max_size_text);
  if (!max_size || *max_size == 0) {
    std::cerr << "brook-dead-letters: param 'max_size': expected a size such as 64MiB or 1GiB, "
                 "got '"
              << max_size_text << "'\n";
    return 2;
  }
  std::unique_ptr<brook::cli::DeadLetterWriter> store;
  try {
    store = std::make_unique<brook::cli::DeadLetterWriter>(
        node.params().get<std::string>("store", "dead-letters.jsonl"), *max_size);
  } catch (const brook::Error& e) {
    std::cerr << "brook-dead-letters: " << e.what() << "\n";
    return 2;
  }
  BROOK_LOG(kInfo) << "keeping dead letters in " << store->path().string() << " ("
                   << store->letters() << " already there, " << store->bytes() << " of "
                   << store->max_bytes() << " bytes)";
  node.on("in", [&](const brook::Message& m) {
    brook::cli::DeadLetter d = to_dead_letter(m);
    brook::cli::DeadLetterWriter::Added added{};
    try {
      added = store->add(d);
    } catch (const brook::Error& e) {
      throw brook::Declined(std::string(e.what()) + "; free some space");
    }
    if (added == brook::cli::DeadLetterWriter::Added::kFull) {
      throw brook::Declined("dead-letter store " + store->path().string() + " is full (" +
                            std::to_string(store->bytes()) + " bytes, max_size " + max_size_text +
                            "): move it aside or raise max_size");
    }
  });
  return node.run();
}
