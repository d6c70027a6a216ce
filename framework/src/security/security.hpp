// CurveZMQ identities: key files, the allowlist, and the socket options every brook socket gets.
// docs/security.md describes the model and the file formats.
//
// A process has one identity (a node's name, "directory", or "cli") whose key pair it loads from
// the topology's key directory; the allowlist there names every public key that may connect.
// Sockets that bind are CURVE servers authenticated by the process's ZAP handler
// (security/zap_handler.hpp); sockets that connect are CURVE clients that name the server they
// expect, so a peer holding another key cannot pose as it.
//
// Thread-safety: a Security is immutable after load(); share it freely. Calls that configure a
// socket must run on the thread that owns the socket. Nothing here blocks.
#pragma once

#include <brook/topology.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

namespace brook {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh key pair from libzmq (libsodium). Throws brook::Error if CURVE is unavailable.
CurveKeyPair generate_curve_key_pair();
// Whether `key` is a 40-character Z85 string that decodes to 32 bytes.
bool valid_z85_key(std::string_view key);

// Key files, in CZMQ's zcert layout (its tools read them): DIR/NAME.key holds the public key,
// DIR/NAME.key_secret both keys and is created with mode 0600.
void write_key_files(const std::filesystem::path& dir, const std::string& name,
                     const CurveKeyPair& keys);
// Reads NAME.key_secret (or any file in that format). Throws ConfigError naming the file, the
// line and the fix (run brook keygen) when it is missing, unreadable, malformed, or readable by
// group or others.
CurveKeyPair read_secret_key_file(const std::filesystem::path& file);

// Names and public keys allowed to connect: DIR/allowlist, one "NAME Z85-KEY" per line; a line
// starting with '#' is a comment. Node names are the topology's; "directory" and "cli" are the
// directory's and the command line tools' keys.
using Allowlist = std::map<std::string, std::string, std::less<>>;
Allowlist read_allowlist(const std::filesystem::path& file);
void write_allowlist(const std::filesystem::path& file, const Allowlist& allowlist,
                     const std::string& header_comment);

class Security {
 public:
  // No security: sockets still get the handshake interval (a silent peer is dropped).
  Security() = default;
  // Loads `identity`'s key pair (from `key_file`, or KEYS/<identity>.key_secret) and the
  // allowlist from spec.keys. With Mechanism::kNone returns Security(). Throws ConfigError.
  static Security load(const SecuritySpec& spec, const std::string& identity,
                       const std::filesystem::path& key_file = {});

  bool curve() const noexcept { return curve_; }
  const std::string& identity() const noexcept { return identity_; }
  const std::string& public_key() const noexcept { return keys_.public_key; }
  std::chrono::milliseconds handshake_timeout() const noexcept { return handshake_; }

  // Before bind: a CURVE server whose connections the ZAP handler judges under `domain` (the
  // channel name, or "directory"). Sets the handshake interval in every case.
  void configure_server(zmq::socket_t& s, const std::string& domain) const;
  // Before connect: a CURVE client that accepts only a server holding `peer`'s key. Throws
  // ConfigError when `peer` is not on the allowlist (connecting would fail the handshake).
  void configure_client(zmq::socket_t& s, std::string_view peer) const;
  // The allowlist name of a 32-byte binary public key, or nullopt.
  std::optional<std::string> name_of_key(std::string_view binary_key) const;
  bool allowed(std::string_view name) const { return allowlist_.count(name) > 0; }

 private:
  bool curve_ = false;
  std::string identity_;
  CurveKeyPair keys_;
  Allowlist allowlist_;                           // name -> Z85 public key
  std::map<std::string, std::string> by_binary_;  // 32-byte public key -> name
  std::chrono::milliseconds handshake_{kDefaultHandshakeTimeout};
};

}  // namespace brook
