#include "security/security.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace brook {

namespace fs = std::filesystem;

namespace {

// libzmq implements it in 4.3 but declares it only in its draft API.
constexpr int kZapEnforceDomain = 93;

std::string keygen_hint(const fs::path& dir) {
  return "run `brook keygen " + dir.string() + " --topology FILE` to create the keys";
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// `    public-key = "..."` -> the quoted value, if the line sets `name`.
std::optional<std::string> zpl_value(const std::string& line, std::string_view name) {
  const std::string t = trim(line);
  if (!t.starts_with(name)) return std::nullopt;
  std::string rest = trim(t.substr(name.size()));
  if (rest.empty() || rest[0] != '=') return std::nullopt;
  rest = trim(rest.substr(1));
  if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
    rest = rest.substr(1, rest.size() - 2);
  }
  return rest;
}

void write_file(const fs::path& file, const std::string& text, mode_t mode) {
  // Created with its final mode, so a secret is never readable by others, not even briefly.
  const fs::path tmp = file.string() + ".tmp";
  ::unlink(tmp.c_str());  // a leftover could have a looser mode, which O_CREAT would keep
  std::FILE* f = nullptr;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd >= 0) f = ::fdopen(fd, "w");
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() ||
      std::fclose(f) != 0) {
    throw Error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  if (::chmod(tmp.c_str(), mode) != 0) {  // O_CREAT honours the umask, which may remove bits
    throw Error("cannot chmod " + tmp.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw Error("cannot write " + file.string() + ": " + ec.message());
}

std::string binary_key(const std::string& z85) {
  std::array<std::uint8_t, 32> bin{};
  if (zmq_z85_decode(bin.data(), z85.c_str()) == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(bin.data()), bin.size());
}

// Refuses key material another local user could replace or add to, as OpenSSH's StrictModes
// does: `file` and the directory holding it must belong to this user or root and be writable by
// neither group nor others. A missing file is left to the read that follows, which names it.
void check_key_path_modes(const fs::path& file, std::string_view what) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  for (const fs::path& p : {file, dir}) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;
    const std::string kind = p == file ? std::string(what) : "the key directory";
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
      throw ConfigError(kind + " " + p.string() + " belongs to uid " + std::to_string(st.st_uid) +
                        ", neither this user (uid " + std::to_string(::geteuid()) +
                        ") nor root, so its owner could change the keys brook trusts: chown " +
                        std::to_string(::geteuid()) + " " + p.string());
    }
    if ((st.st_mode & 022) != 0) {
      throw ConfigError(kind + " " + p.string() +
                        " is writable by group or others, so another local user could add or "
                        "replace keys: chmod go-w " +
                        p.string());
    }
  }
}

}  // namespace

CurveKeyPair generate_curve_key_pair() {
  std::array<char, 41> pub{};
  std::array<char, 41> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    throw Error(std::string("cannot generate a CURVE key pair: ") + zmq_strerror(zmq_errno()) +
                " (libzmq built without libsodium?)");
  }
  return CurveKeyPair{pub.data(), sec.data()};
}

bool valid_z85_key(std::string_view key) {
  if (key.size() != 40) return false;
  return !binary_key(std::string(key)).empty();
}

void write_key_files(const fs::path& dir, const std::string& name, const CurveKeyPair& keys) {
  const std::string head =
      "#   brook CURVE key of '" + name + "' (ZeroMQ CURVE, CZMQ zcert layout)\n";
  write_file(dir / (name + ".key"),
             head + "#   public key only: safe to share\nmetadata\n    name = \"" + name +
                 "\"\ncurve\n    public-key = \"" + keys.public_key + "\"\n",
             0644);
  write_file(dir / (name + ".key_secret"),
             head + "#   SECRET: whoever reads this file can act as '" + name +
                 "'\nmetadata\n    name = \"" + name + "\"\ncurve\n    public-key = \"" +
                 keys.public_key + "\"\n    secret-key = \"" + keys.secret_key + "\"\n",
             0600);
}

CurveKeyPair read_secret_key_file(const fs::path& file) {
  const std::string hint = keygen_hint(file.parent_path());
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw ConfigError("cannot read key file " + file.string() + ": " + std::strerror(errno) + "; " +
                      hint);
  }
  if ((st.st_mode & 077) != 0) {
    throw ConfigError("key file " + file.string() +
                      " is readable by group or others; a secret key must be private: chmod 600 " +
                      file.string());
  }
  check_key_path_modes(file, "key file");
  std::ifstream in(file);
  if (!in) throw ConfigError("cannot open key file " + file.string() + "; " + hint);
  CurveKeyPair keys;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    for (auto [name, out] :
         {std::pair{"public-key", &keys.public_key}, std::pair{"secret-key", &keys.secret_key}}) {
      auto v = zpl_value(line, name);
      if (!v) continue;
      if (!valid_z85_key(*v)) {
        throw ConfigError(file.string() + ":" + std::to_string(line_no) + ": " + name +
                          " is not a 40-character Z85 key; " + hint);
      }
      *out = *v;
    }
  }
  if (keys.public_key.empty() || keys.secret_key.empty()) {
    throw ConfigError(file.string() + ": expected public-key and secret-key lines; " + hint);
  }
  // A file whose halves do not belong together would fail every handshake, obscurely.
  std::array<char, 41> derived{};
  if (zmq_curve_public(derived.data(), keys.secret_key.c_str()) != 0 ||
      keys.public_key != derived.data()) {
    throw ConfigError(file.string() + ": the public key does not match the secret key; " + hint);
  }
  return keys;
}

Allowlist read_allowlist(const fs::path& file) {
  check_key_path_modes(file, "the allowlist");
  std::ifstream in(file);
  if (!in) {
    throw ConfigError("cannot read the allowlist " + file.string() + ": " + std::strerror(errno) +
                      "; " + keygen_hint(file.parent_path()));
  }
  Allowlist out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    // Only whole-line comments: '#' is a Z85 digit, so it may appear inside a key.
    if (trim(line).starts_with('#')) continue;
    std::istringstream words(line);
    std::string name;
    std::string key;
    std::string extra;
    if (!(words >> name)) continue;
    const std::string where = file.string() + ":" + std::to_string(line_no) + ": ";
    if (!(words >> key) || (words >> extra)) {
      throw ConfigError(where + "expected 'NAME Z85-PUBLIC-KEY', got '" + trim(line) + "'");
    }
    if (!valid_z85_key(key)) {
      throw ConfigError(where + "'" + key + "' is not a 40-character Z85 public key");
    }
    for (const auto& [other, other_key] : out) {
      if (other_key == key) {
        throw ConfigError(where + "the key of '" + name + "' is also listed for '" + other +
                          "'; each name needs its own key pair (brook keygen)");
      }
    }
    if (!out.emplace(name, key).second) {
      throw ConfigError(where + "'" + name + "' is listed twice; keep one line per name");
    }
  }
  return out;
}

void write_allowlist(const fs::path& file, const Allowlist& allowlist,
                     const std::string& header_comment) {
  std::string text = header_comment;
  for (const auto& [name, key] : allowlist)
    text += name + " " + key + "\n";
  write_file(file, text, 0644);
}

Security Security::load(const SecuritySpec& spec, const std::string& identity,
                        const fs::path& key_file) {
  Security s;
  s.handshake_ = spec.handshake_timeout;
  if (spec.mechanism == Mechanism::kNone) return s;
  if (!zmq_has("curve")) {
    throw ConfigError(
        "security: curve, but this libzmq has no CURVE support (install libzmq5 "
        "built with libsodium)");
  }
  s.curve_ = true;
  s.identity_ = identity;
  s.keys_ =
      read_secret_key_file(key_file.empty() ? spec.keys / (identity + ".key_secret") : key_file);
  s.allowlist_ = read_allowlist(spec.keys / "allowlist");
  if (!s.allowlist_.count(kDirectoryIdentity)) {
    throw ConfigError((spec.keys / "allowlist").string() +
                      ": no 'directory' key; nothing could reach the directory. " +
                      keygen_hint(spec.keys));
  }
  // A stale secret (keys regenerated, one file not copied) would be refused by every peer;
  // say so here instead.
  if (auto it = s.allowlist_.find(identity);
      it != s.allowlist_.end() && it->second != s.keys_.public_key) {
    throw ConfigError("the secret key of '" + identity +
                      "' does not match its public key on the "
                      "allowlist " +
                      (spec.keys / "allowlist").string() +
                      ": copy the key files and the allowlist from the same brook keygen run");
  }
  for (const auto& [name, key] : s.allowlist_)
    s.by_binary_.emplace(binary_key(key), name);
  return s;
}

void Security::configure_server(zmq::socket_t& s, const std::string& domain) const {
  s.set(zmq::sockopt::handshake_ivl, static_cast<int>(handshake_.count()));
  if (!curve_) return;
  s.set(zmq::sockopt::curve_server, true);
  s.set(zmq::sockopt::curve_secretkey, keys_.secret_key);
  s.set(zmq::sockopt::zap_domain, domain);
  // Without it a socket whose ZAP handler is missing lets everyone in.
  const int one = 1;
  if (zmq_setsockopt(s.handle(), kZapEnforceDomain, &one, sizeof one) != 0) {
    throw ZmqError(zmq_errno(), "cannot set ZMQ_ZAP_ENFORCE_DOMAIN");
  }
}

void Security::configure_client(zmq::socket_t& s, std::string_view peer) const {
  s.set(zmq::sockopt::handshake_ivl, static_cast<int>(handshake_.count()));
  if (!curve_) return;
  // The command line tools' nodes ("cli-tap-4242") hold the cli key.
  if (is_tool_node(peer)) peer = kCliIdentity;
  auto it = allowlist_.find(peer);
  if (it == allowlist_.end()) {
    throw ConfigError(
        "no public key for '" + std::string(peer) +
        "' on the allowlist: cannot connect to it securely (add it with brook keygen)");
  }
  s.set(zmq::sockopt::curve_serverkey, it->second);
  s.set(zmq::sockopt::curve_publickey, keys_.public_key);
  s.set(zmq::sockopt::curve_secretkey, keys_.secret_key);
}

std::optional<std::string> Security::name_of_key(std::string_view binary) const {
  auto it = by_binary_.find(std::string(binary));
  if (it == by_binary_.end()) return std::nullopt;
  return it->second;
}

}  // namespace brook
