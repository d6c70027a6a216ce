// brook keygen DIR --topology T: a CURVE key pair for each node of T, the directory and the
// command line tools, and the allowlist of their public keys (docs/security.md).
#include <sys/stat.h>

#include <iostream>
#include <set>

#include "commands.hpp"

namespace brook::cli {

namespace {

namespace fs = std::filesystem;

// Reuses a pair that is already there, so re-running keygen after adding a node keeps every
// running node's key valid; --force replaces them all.
CurveKeyPair key_pair_for(const fs::path& dir, const std::string& name, bool force, bool& created) {
  const fs::path secret = dir / (name + ".key_secret");
  created = force || !fs::exists(secret);
  if (!created) return read_secret_key_file(secret);
  CurveKeyPair keys = generate_curve_key_pair();
  write_key_files(dir, name, keys);
  return keys;
}

}  // namespace

int run_keygen(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>()->required(), "topology file")(
      "force", "replace existing keys (every running node must then be restarted)")(
      "json", "print what was written as one JSON object")(
      "dir", po::value<std::string>()->required(), "directory for the keys");
  po::positional_options_description pos;
  pos.add("dir", 1);
  const auto vm =
      parse(args, "DIR --topology FILE [--force] [--json]",
            "Writes a CURVE key pair for every node of the topology, for the directory\n"
            "(\"directory\") and for the command line tools (\"cli\"): NAME.key (public)\n"
            "and NAME.key_secret (mode 0600), plus DIR/allowlist naming every public key\n"
            "allowed to connect. Existing pairs are kept unless --force. Point the\n"
            "topology at DIR with security: {mechanism: curve, keys: DIR}; remove a line\n"
            "from the allowlist to shut that key out (a re-run of keygen writes the\n"
            "allowlist again from the topology).",
            o, pos);
  if (!vm) return kExitOk;
  const Topology t = load((*vm)["topology"].as<std::string>(), *vm);
  const fs::path dir = (*vm)["dir"].as<std::string>();
  const bool force = vm->count("force") > 0;

  std::vector<std::string> names{std::string(kDirectoryIdentity), std::string(kCliIdentity)};
  for (const auto& n : t.nodes) {
    if (is_reserved_key_name(n.name)) {
      throw Exit(kExitFailed, t.file.string() + ": node '" + n.name +
                                  "' has a name reserved for keys (directory, cli, cli-*): "
                                  "rename the node");
    }
    names.push_back(n.name);
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Exit(kExitFailed, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // the secrets' directory: only the owner lists it

  Allowlist allowlist;
  nlohmann::json written = nlohmann::json::array();
  int created_count = 0;
  try {
    for (const auto& name : names) {
      bool created = false;
      const CurveKeyPair keys = key_pair_for(dir, name, force, created);
      allowlist.emplace(name, keys.public_key);
      created_count += created ? 1 : 0;
      written.push_back({{"name", name}, {"public_key", keys.public_key}, {"created", created}});
    }
    write_allowlist(
        dir / "allowlist", allowlist,
        "# brook allowlist for topology '" + t.name +
            "' (brook keygen): NAME PUBLIC-KEY\n"
            "# Only these keys may connect to its nodes and directory; delete a line to "
            "shut a key out.\n");
  } catch (const Error& e) {
    throw Exit(kExitFailed, e.what());
  }
  if (vm->count("json")) {
    print_json(std::cout, {{"dir", fs::absolute(dir).string()},
                           {"allowlist", fs::absolute(dir / "allowlist").string()},
                           {"keys", written}});
  } else {
    std::cout << "brook keygen: " << names.size() << " key pair(s) in " << dir.string() << " ("
              << created_count << " new, " << names.size() - created_count << " kept), allowlist "
              << (dir / "allowlist").string() << "\n";
  }
  return kExitOk;
}

}  // namespace brook::cli
