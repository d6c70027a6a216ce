// brook export systemd|kubernetes|compose TOPOLOGY -o DIR: deployment files (docs/deploy.md).
#include "export/export.hpp"

#include <brook/log.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "topology/exec.hpp"

namespace brook::cli {

namespace {

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Exit(kExitUsage, "brook export: cannot read " + file.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_files(const std::filesystem::path& dir,
                 const std::vector<exporting::GeneratedFile>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw Exit(kExitUsage, "brook export: cannot create -o " + dir.string() + ": " + ec.message() +
                               " (hint: pick a directory you can write)");
  }
  for (const auto& f : files) {
    const auto path = dir / f.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << f.text;
    out.close();
    if (!out) {
      throw Exit(kExitUsage, "brook export: cannot write " + path.string() + ": " +
                                 std::strerror(errno) + " (hint: pick a directory you can write)");
    }
  }
}

}  // namespace

int run_export(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()("output,o", po::value<std::string>(), "write the files into this directory")(
      "host", po::value<std::string>(),
      "systemd: export this host's units (topologies with hosts:)")(
      "advertise", po::value<std::string>(),
      "systemd without hosts: the address nodes advertise (default 127.0.0.1)")(
      "image", po::value<std::string>()->default_value("brook:latest"),
      "kubernetes, compose: the container image holding every node program")(
      "log-level", po::value<std::string>()->default_value("info"), "passed to every process")(
      "target", po::value<std::string>()->required(), "systemd, kubernetes or compose")(
      "topology", po::value<std::string>()->required(), "topology file");
  po::positional_options_description pos;
  pos.add("target", 1).add("topology", 1);
  const auto vm = parse(
      args, "systemd|kubernetes|compose TOPOLOGY -o DIR [--host NAME] [--image IMG] [--set ...]",
      "Writes deployment files for the topology into DIR (docs/deploy.md):\n"
      "  systemd     a Type=notify service per node instance and directory, and a target\n"
      "  kubernetes  a ConfigMap, StatefulSets and headless Services\n"
      "  compose     compose.yaml and a copy of the topology\n"
      "Exit 0 when written; 1 for an invalid topology or (systemd) a program not found;\n"
      "2 for usage errors (unknown target or host, unwritable DIR).",
      o, pos);
  if (!vm) return kExitOk;
  const std::string target = (*vm)["target"].as<std::string>();
  if (target != "systemd" && target != "kubernetes" && target != "compose") {
    throw Exit(kExitUsage, "brook export: unknown target '" + target +
                               "' (hint: systemd, kubernetes or compose)");
  }
  if (!vm->count("output")) {
    throw Exit(kExitUsage, "brook export: -o DIR is required (where to write the files)");
  }
  if (vm->count("host") && target != "systemd") {
    throw Exit(kExitUsage, "brook export " + target +
                               ": --host is for systemd (a cluster runs every host's instances)");
  }
  exporting::ExportOptions eo;
  eo.log_level = (*vm)["log-level"].as<std::string>();
  if (!parse_log_level(eo.log_level)) {
    throw Exit(kExitUsage,
               "brook export: --log-level: expected trace, debug, info, warn, error or off");
  }
  if (vm->count("set")) eo.overrides = (*vm)["set"].as<std::vector<std::string>>();
  if (vm->count("host")) eo.host = (*vm)["host"].as<std::string>();
  if (vm->count("advertise")) eo.advertise = (*vm)["advertise"].as<std::string>();
  eo.image = (*vm)["image"].as<std::string>();
  const std::filesystem::path file = (*vm)["topology"].as<std::string>();
  const Topology t = load(file, *vm);
  std::vector<exporting::GeneratedFile> files;
  try {
    if (target == "systemd") {
      const char* path = std::getenv("PATH");
      eo.directory_program =
          detail::find_exec("brook-directory", {}, exec_search_path(), path == nullptr ? "" : path)
              .path;
      if (eo.directory_program.empty() && !t.directory.external) {
        throw Exit(kExitFailed,
                   "brook export: brook-directory not found next to brook, in BROOK_PATH or PATH "
                   "(hint: build or install it: the units name it by absolute path)");
      }
      eo.directory_program = std::filesystem::absolute(eo.directory_program);
      files = exporting::export_systemd(t, eo);
    } else {
      eo.topology_text = read_text(t.file);
      files = target == "kubernetes" ? exporting::export_kubernetes(t, eo)
                                     : exporting::export_compose(t, eo);
    }
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, "brook export " + target + ": " + e.what());
  } catch (const Error& e) {
    throw Exit(kExitFailed, "brook export " + target + ": " + e.what());
  }
  const std::filesystem::path dir = (*vm)["output"].as<std::string>();
  write_files(dir, files);
  std::cout << "wrote " << files.size() << " file(s) to " << dir.string() << "\n";
  return kExitOk;
}

}  // namespace brook::cli
