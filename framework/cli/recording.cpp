#include "recording.hpp"

#include <algorithm>
#include <array>
#include <brook/error.hpp>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace brook::cli {

namespace {

// The format is little-endian whatever the host, so other languages read it with fixed codes.
template <class T>
void store_le(std::byte* out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out[i] = static_cast<std::byte>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
}

template <class T>
T load_le(const std::byte* in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<std::uint64_t>(in[i]) << (8 * i);
  return static_cast<T>(v);
}

// What zlib says went wrong on `gz`, or that the file simply ended.
std::string stream_problem(gzFile gz) {
  int err = Z_OK;
  const char* what = gzerror(gz, &err);
  if (err == Z_OK || err == Z_STREAM_END) return "the file ends";
  if (err == Z_BUF_ERROR) return "the compressed stream ends early";
  if (err == Z_ERRNO) return std::string("read error: ") + std::strerror(errno);
  return std::string("the compressed data is corrupt (zlib: ") + (what ? what : "?") + ")";
}

std::string printable(std::span<const std::byte> bytes) {
  std::string out;
  for (std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

nlohmann::json header_json(const RecordingHeader& h) {
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& c : h.channels)
    channels.push_back({{"name", c.name}, {"pattern", c.pattern}, {"delivery", c.delivery}});
  return {
      {"topology", h.topology}, {"channels", channels}, {"start_ns", h.start_ns}, {"host", h.host}};
}

RecordingHeader header_from_json(const std::string& text, const std::string& file) {
  const auto bad = [&](const std::string& why) {
    return Error(file + ": corrupt recording header: " + why +
                 " (docs/record.md describes the format; record the channel again)");
  };
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw bad("it is not a JSON object");
  RecordingHeader h;
  if (!j.contains("topology") || !j["topology"].is_string()) throw bad("no string 'topology'");
  h.topology = j["topology"].get<std::string>();
  if (!j.contains("start_ns") || !j["start_ns"].is_number_integer())
    throw bad("no integer 'start_ns'");
  h.start_ns = j["start_ns"].get<std::int64_t>();
  if (j.contains("host") && j["host"].is_string()) h.host = j["host"].get<std::string>();
  if (!j.contains("channels") || !j["channels"].is_array() || j["channels"].empty())
    throw bad("no non-empty array 'channels'");
  if (j["channels"].size() > 65536) throw bad("more than 65536 channels");
  for (const auto& c : j["channels"]) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string())
      throw bad("a channel without a string 'name'");
    RecordedChannel rc;
    rc.name = c["name"].get<std::string>();
    if (c.contains("pattern") && c["pattern"].is_string())
      rc.pattern = c["pattern"].get<std::string>();
    if (c.contains("delivery") && c["delivery"].is_string())
      rc.delivery = c["delivery"].get<std::string>();
    h.channels.push_back(std::move(rc));
  }
  return h;
}

}  // namespace

RecordingWriter::RecordingWriter(const std::filesystem::path& file, const RecordingHeader& header)
    : file_(file) {
  gz_ = gzopen(file.c_str(), "wb6");
  if (gz_ == nullptr) {
    throw Error(file.string() + ": cannot create the recording: " + std::strerror(errno) +
                " (check the directory exists and is writable)");
  }
  const std::string text = header_json(header).dump();
  std::array<std::byte, 16> start{};
  std::memcpy(start.data(), kRecordingMagic.data(), kRecordingMagic.size());
  store_le<std::uint32_t>(start.data() + 8, kRecordingVersion);
  store_le<std::uint32_t>(start.data() + 12, static_cast<std::uint32_t>(text.size()));
  try {
    put(start.data(), start.size());
    put(text.data(), text.size());
    flush();
  } catch (const Error&) {
    gzclose(gz_);
    throw;
  }
}

RecordingWriter::~RecordingWriter() {
  if (gz_ != nullptr) gzclose(gz_);  // no end marker: reads as truncated, which it is
}

void RecordingWriter::put(const void* data, std::size_t size) {
  if (size == 0) return;
  if (gzwrite(gz_, data, static_cast<unsigned>(size)) != static_cast<int>(size)) write_failed();
}

void RecordingWriter::write_failed() {
  int err = Z_OK;
  const char* what = gzerror(gz_, &err);
  throw Error(file_.string() + ": cannot write the recording: " +
              (err == Z_ERRNO ? std::strerror(errno) : what) + " (is the disk full?)");
}

void RecordingWriter::write(std::int64_t receive_ns, std::uint16_t channel,
                            std::span<const std::byte> envelope) {
  if (envelope.size() > kMaxRecord - kRecordPrefix)
    throw Error("an envelope of " + std::to_string(envelope.size()) + " bytes is too large");
  std::array<std::byte, 4 + kRecordPrefix> prefix{};
  store_le<std::uint32_t>(prefix.data(),
                          static_cast<std::uint32_t>(kRecordPrefix + envelope.size()));
  store_le<std::int64_t>(prefix.data() + 4, receive_ns);
  store_le<std::uint16_t>(prefix.data() + 12, channel);
  put(prefix.data(), prefix.size());
  put(envelope.data(), envelope.size());
  ++records_;
}

void RecordingWriter::flush() {
  if (gzflush(gz_, Z_SYNC_FLUSH) != Z_OK) write_failed();
}

void RecordingWriter::finish() {
  std::array<std::byte, 12> end{};
  store_le<std::uint64_t>(end.data() + 4, records_);
  put(end.data(), end.size());
  const int rc = gzclose(gz_);
  gz_ = nullptr;
  if (rc != Z_OK) {
    throw Error(file_.string() + ": cannot close the recording: " +
                (rc == Z_ERRNO ? std::strerror(errno) : "zlib error " + std::to_string(rc)) +
                " (is the disk full?)");
  }
}

RecordingReader::RecordingReader(const std::filesystem::path& file) : file_(file) {
  gz_ = gzopen(file.c_str(), "rb");
  if (gz_ == nullptr) {
    throw Error(file.string() + ": cannot open the recording: " + std::strerror(errno));
  }
  const std::string name = file.string();
  std::array<std::byte, 16> start{};
  const int got = gzread(gz_, start.data(), static_cast<unsigned>(start.size()));
  if (got < static_cast<int>(kRecordingMagic.size()) ||
      std::memcmp(start.data(), kRecordingMagic.data(), kRecordingMagic.size()) != 0) {
    const std::size_t n = got < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(got), 8);
    throw Error(name + ": not a brook recording: it starts with '" + printable({start.data(), n}) +
                "', not the magic '" + std::string(kRecordingMagic) +
                "' (brook record -o writes one; docs/record.md)");
  }
  if (got < static_cast<int>(start.size())) {
    throw Error(name + ": corrupt recording header: the file ends inside its first 16 bytes");
  }
  const auto version = load_le<std::uint32_t>(start.data() + 8);
  if (version != kRecordingVersion) {
    throw Error(name + ": recording format version " + std::to_string(version) +
                ", but this brook reads version " + std::to_string(kRecordingVersion) +
                " (use the brook that recorded it)");
  }
  const auto size = load_le<std::uint32_t>(start.data() + 12);
  if (size > kMaxRecordingHeader) {
    throw Error(name + ": corrupt recording header: it claims " + std::to_string(size) +
                " bytes, more than the " + std::to_string(kMaxRecordingHeader) + " allowed");
  }
  std::string text(size, '\0');
  std::string why;
  if (!read(text.data(), size, why)) {
    throw Error(name + ": corrupt recording header: " + why + " inside the " +
                std::to_string(size) + "-byte header");
  }
  header_ = header_from_json(text, name);
}

RecordingReader::~RecordingReader() {
  if (gz_ != nullptr) gzclose(gz_);
}

bool RecordingReader::read(void* data, std::size_t size, std::string& why_short) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const int got = gzread(gz_, p, static_cast<unsigned>(std::min<std::size_t>(size, 1u << 30)));
    if (got <= 0) {
      why_short = stream_problem(gz_);
      return false;
    }
    p += got;
    size -= static_cast<std::size_t>(got);
  }
  return true;
}

void RecordingReader::end_early(const std::string& why) {
  done_ = true;
  truncated_ = why;
}

std::optional<Record> RecordingReader::next() {
  if (done_) return std::nullopt;
  const std::string after = " after record " + std::to_string(records_);
  std::array<std::byte, 4> len_bytes{};
  std::string why;
  if (!read(len_bytes.data(), len_bytes.size(), why)) {
    end_early(why + after +
              " without the end marker (the recorder was killed, or is still "
              "recording)");
    return std::nullopt;
  }
  const auto len = load_le<std::uint32_t>(len_bytes.data());
  if (len == 0) {  // the end marker, with the record count
    std::array<std::byte, 8> count{};
    done_ = true;
    if (!read(count.data(), count.size(), why)) {
      end_early(why + " inside the end marker");
    } else if (load_le<std::uint64_t>(count.data()) != records_) {
      end_early("the end marker counts " + std::to_string(load_le<std::uint64_t>(count.data())) +
                " records, but " + std::to_string(records_) + " were read");
    }
    return std::nullopt;
  }
  if (len < kRecordPrefix || len > kMaxRecord) {
    end_early("corrupt length " + std::to_string(len) + after);
    return std::nullopt;
  }
  std::vector<std::byte> body(len);
  if (!read(body.data(), body.size(), why)) {
    end_early(why + " inside record " + std::to_string(records_ + 1));
    return std::nullopt;
  }
  Record r;
  r.receive_ns = load_le<std::int64_t>(body.data());
  r.channel = load_le<std::uint16_t>(body.data() + 8);
  if (r.channel >= header_.channels.size()) {
    end_early("record " + std::to_string(records_ + 1) + " names channel " +
              std::to_string(r.channel) + ", but the header lists " +
              std::to_string(header_.channels.size()));
    return std::nullopt;
  }
  r.envelope.assign(body.begin() + kRecordPrefix, body.end());
  ++records_;
  return r;
}

}  // namespace brook::cli
