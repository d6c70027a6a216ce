// The recording file of brook record / brook replay (docs/record.md): what is written reads back
// byte for byte; a file cut anywhere (the recorder killed) yields every record before the cut and
// says why it ended; a file that is not a recording, or has a corrupt header, is an error naming
// the file and the problem.
#include <gtest/gtest.h>
#include <zlib.h>

#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "recording.hpp"
#include "support/process.hpp"

namespace brook::cli {
namespace {

namespace fs = std::filesystem;

RecordingHeader sample_header() {
  RecordingHeader h;
  h.topology = "shop";
  h.channels = {{"checkouts", "pipeline", "at-least-once"}, {"news", "pubsub", ""}};
  h.start_ns = 1765000000123456789;
  h.host = "build-1";
  return h;
}

std::vector<std::byte> envelope(std::uint64_t seq, const std::string& key) {
  EnvelopeEncoder enc;
  OutgoingEnvelope e;
  e.producer = "basket.0@abc";
  e.seq = seq;
  e.channel = "checkouts";
  e.type = "shop.Checkout";
  e.key = key;
  e.created_ns = 42;
  const std::string payload = "\xa2hi";  // msgpack "hi"
  const auto bytes = enc.encode_raw(e, as_bytes(payload));
  return {bytes.begin(), bytes.end()};
}

// The decompressed bytes of a gzip file.
std::string gunzip(const fs::path& file) {
  gzFile gz = gzopen(file.c_str(), "rb");
  std::string out;
  char buf[4096];
  int n = 0;
  while ((n = gzread(gz, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<std::size_t>(n));
  gzclose(gz);
  return out;
}

void gzip(const fs::path& file, const std::string& bytes) {
  gzFile gz = gzopen(file.c_str(), "wb");
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
}

std::string error_of(const fs::path& file) {
  try {
    RecordingReader r(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class Recording : public ::testing::Test {
 protected:
  // Writes 3 records on two channels; returns their envelopes.
  std::vector<std::vector<std::byte>> write_sample(bool finish = true) {
    std::vector<std::vector<std::byte>> envs{envelope(1, "b-1"), envelope(2, "b-2"),
                                             envelope(3, std::string(300, 'k'))};
    RecordingWriter w(file_, sample_header());
    w.write(100, 0, envs[0]);
    w.write(250, 1, envs[1]);
    w.write(251, 0, envs[2]);
    EXPECT_EQ(w.records(), 3u);
    if (finish) w.finish();
    return envs;
  }

  test::TempDir dir_;
  fs::path file_ = dir_.path() / "rec.brec";
};

TEST_F(Recording, RoundTripKeepsHeaderTimesChannelsAndEnvelopeBytes) {
  const auto envs = write_sample();
  RecordingReader r(file_);
  EXPECT_EQ(r.header(), sample_header());
  const std::vector<std::pair<std::int64_t, std::uint16_t>> expected{{100, 0}, {250, 1}, {251, 0}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto rec = r.next();
    ASSERT_TRUE(rec) << i << ": " << r.truncated();
    EXPECT_EQ(rec->receive_ns, expected[i].first);
    EXPECT_EQ(rec->channel, expected[i].second);
    EXPECT_EQ(rec->envelope, envs[i]) << "record " << i;
    EnvelopeView v;
    EXPECT_TRUE(decode_envelope(rec->envelope, Limits{}, v).ok());
    // What brook record stores: the decoder's view of the whole frame.
    EXPECT_EQ(v.frame.data(), rec->envelope.data());
    EXPECT_EQ(v.frame.size(), rec->envelope.size());
  }
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.truncated(), "");
  EXPECT_EQ(r.records(), 3u);
}

TEST_F(Recording, IsGzipWithTheDocumentedLayout) {
  write_sample();
  const std::string raw = gunzip(file_);
  ASSERT_GE(raw.size(), 16u);
  EXPECT_EQ(raw.substr(0, 8), "BROOKREC");
  EXPECT_EQ(raw.substr(8, 4), std::string("\x01\x00\x00\x00", 4));  // version 1, little-endian
  const auto header_len = static_cast<std::uint32_t>(static_cast<unsigned char>(raw[12])) |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(raw[13])) << 8;
  EXPECT_EQ(raw[14], '\0');
  const auto header = nlohmann::json::parse(raw.substr(16, header_len));
  EXPECT_EQ(header["topology"], "shop");
  EXPECT_EQ(header["channels"][1]["name"], "news");
  // The first record: length, receive time 100, channel 0, then the envelope.
  const std::size_t at = 16 + header_len;
  const std::uint32_t len = static_cast<unsigned char>(raw[at]);
  EXPECT_EQ(len, 10 + envelope(1, "b-1").size());
  EXPECT_EQ(static_cast<unsigned char>(raw[at + 4]), 100);
  // The end marker: length 0 and the record count.
  EXPECT_EQ(raw.substr(raw.size() - 12), std::string("\0\0\0\0\x03\0\0\0\0\0\0\0", 12));
}

TEST_F(Recording, CutAnywhereYieldsTheCompleteRecordsBeforeTheCut) {
  write_sample();
  const std::string raw = gunzip(file_);
  // Where each record ends in the decompressed stream (records, then the end marker).
  std::vector<std::size_t> record_ends;
  {
    std::size_t at = 16 + static_cast<unsigned char>(raw[12]) +
                     (static_cast<std::size_t>(static_cast<unsigned char>(raw[13])) << 8);
    for (int i = 0; i < 3; ++i) {
      at += 4 + (static_cast<unsigned char>(raw[at]) |
                 static_cast<std::size_t>(static_cast<unsigned char>(raw[at + 1])) << 8);
      record_ends.push_back(at);
    }
  }
  const fs::path cut = dir_.path() / "cut.brec";
  for (std::size_t size = record_ends.front() - 3; size < raw.size(); ++size) {
    gzip(cut, raw.substr(0, size));
    RecordingReader r(cut);
    std::size_t n = 0;
    while (r.next())
      ++n;
    std::size_t complete = 0;
    for (std::size_t end : record_ends)
      complete += size >= end ? 1 : 0;
    EXPECT_EQ(n, complete) << "cut at " << size;
    EXPECT_NE(r.truncated(), "") << "cut at " << size;
  }
}

TEST_F(Recording, KilledWriterLeavesWhatWasFlushedReadable) {
  // A recorder killed after a flush: the gzip stream has no trailer and no end marker.
  const auto envs = envelope(1, "k");
  {
    RecordingWriter w(file_, sample_header());
    w.write(1, 0, envs);
    w.write(2, 0, envs);
    w.flush();
    // Copy the file as it is now, as if the process died here.
    fs::copy_file(file_, dir_.path() / "killed.brec");
  }
  RecordingReader r(dir_.path() / "killed.brec");
  ASSERT_TRUE(r.next());
  ASSERT_TRUE(r.next());
  EXPECT_FALSE(r.next());
  EXPECT_NE(r.truncated().find("after record 2"), std::string::npos) << r.truncated();
}

TEST_F(Recording, NotARecordingOrACorruptHeaderIsAClearError) {
  const fs::path other = dir_.write("other.txt", "hello world, not a recording");
  EXPECT_NE(error_of(other).find("other.txt: not a brook recording: it starts with 'hello wo'"),
            std::string::npos)
      << error_of(other);
  EXPECT_NE(error_of(dir_.path() / "missing.brec").find("missing.brec: cannot open"),
            std::string::npos);

  write_sample();
  const std::string raw = gunzip(file_);
  const fs::path bad = dir_.path() / "bad.brec";
  std::string v2 = raw;
  v2[8] = '\x02';
  gzip(bad, v2);
  EXPECT_NE(error_of(bad).find("recording format version 2, but this brook reads version 1"),
            std::string::npos)
      << error_of(bad);

  std::string huge = raw;
  huge[15] = '\x7f';  // header length beyond the bound
  gzip(bad, huge);
  EXPECT_NE(error_of(bad).find("bad.brec: corrupt recording header: it claims"), std::string::npos)
      << error_of(bad);

  std::string garbled = raw;
  garbled[16] = '[';  // the JSON object is no longer one
  gzip(bad, garbled);
  EXPECT_NE(error_of(bad).find("corrupt recording header: it is not a JSON object"),
            std::string::npos)
      << error_of(bad);

  gzip(bad, raw.substr(0, 30));  // ends inside the header
  EXPECT_NE(error_of(bad).find("corrupt recording header: the file ends inside the"),
            std::string::npos)
      << error_of(bad);
}

TEST_F(Recording, CorruptRecordLengthEndsTheReplayWithAReason) {
  write_sample();
  std::string raw = gunzip(file_);
  const std::size_t first = 16 + static_cast<unsigned char>(raw[12]) +
                            (static_cast<std::size_t>(static_cast<unsigned char>(raw[13])) << 8);
  raw[first] = '\x03';  // shorter than a record's fixed part
  raw[first + 1] = '\0';
  gzip(file_, raw);
  RecordingReader r(file_);
  EXPECT_FALSE(r.next());
  EXPECT_NE(r.truncated().find("corrupt length 3 after record 0"), std::string::npos)
      << r.truncated();
}

}  // namespace
}  // namespace brook::cli
