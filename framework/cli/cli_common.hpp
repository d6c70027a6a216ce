// What every `brook` subcommand shares: exit codes, option parsing with --help, finding the
// topology, the directory and sibling executables, and JSON output.
#pragma once

#include <boost/program_options.hpp>
#include <brook/error.hpp>
#include <brook/topology.hpp>
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "security/security.hpp"

namespace brook::cli {

namespace po = boost::program_options;

// Exit codes of every subcommand (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the operation failed: invalid topology, a node failed...
inline constexpr int kExitUsage = 2;   // bad command line, unreadable file
inline constexpr int kExitUnreachable = 3;  // the directory did not answer

// Raised by a subcommand to exit with a message and a code. Not a brook::Error: code that turns
// the library's errors into an exit code (`catch (const Error&)`, e.g. "the directory did not
// answer", 3) must let a code already decided (an unreadable key file, 2) pass unchanged.
class Exit : public std::runtime_error {
 public:
  Exit(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

struct Args {
  std::string program;            // "brook tap"
  std::vector<std::string> argv;  // after the subcommand name
};

// Parses `args` against `options` (+ positionals). Returns nullopt after printing help for
// --help/-h; throws Exit(kExitUsage) with the usage for bad options.
std::optional<po::variables_map> parse(const Args& args, const std::string& synopsis,
                                       const std::string& description,
                                       const po::options_description& options,
                                       const po::positional_options_description& positional);

// Options shared by commands that talk to a running topology.
void add_directory_options(po::options_description& d);
// Options for commands that read a topology file: --set.
void add_topology_options(po::options_description& d);

// Directory endpoints, asked in this order (redundant directories): every --directory (each may
// be a comma-separated list), else the topology's endpoints (if --topology given), else
// $BROOK_DIRECTORY (comma-separated), else tcp://127.0.0.1:5670. A malformed --directory or
// $BROOK_DIRECTORY is Exit(kExitUsage) naming the expected form.
std::vector<std::string> directory_endpoints(const po::variables_map& vm, const Topology* topology);
// The --directory values of a tool (add_directory_options), checked; empty when none given.
std::vector<std::string> directory_options(const po::variables_map& vm);
// brook up's single --directory if given, checked as directory_endpoints() checks it.
std::optional<std::string> directory_option(const po::variables_map& vm);
// The security the CLI talks with, as identity "cli": CURVE with --keys DIR, else the topology's
// `security:` (if --topology given), else $BROOK_KEYS; none otherwise. --key-file FILE picks
// another secret key file than DIR/cli.key_secret (`--key` is brook send's ordering key). Throws
// Exit(kExitUsage) naming a bad key file.
SecuritySpec cli_security_spec(const po::variables_map& vm, const Topology* topology);
Security cli_security(const po::variables_map& vm, const Topology* topology);
// The name the CLI's own short-lived nodes register under: with CURVE the directory accepts only
// "cli-..." names from the cli key.
std::string tool_node_name(const std::string& tool, bool curve);

// Loads a topology with --set overrides and the exec search path (directory of the brook
// executable, then $BROOK_PATH). Throws Exit(kExitFailed) printing every diagnostic.
Topology load(const std::filesystem::path& file, const po::variables_map& vm);
std::vector<std::filesystem::path> exec_search_path();
// Directory containing this `brook` executable.
std::filesystem::path self_dir();

bool stdout_is_tty();
// One compact JSON document per line.
void print_json(std::ostream& out, const nlohmann::json& j);
std::string format_rate(double per_second);
std::string format_duration_ms(std::uint64_t ms);

}  // namespace brook::cli
