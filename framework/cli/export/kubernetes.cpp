// brook export kubernetes: a ConfigMap with the topology, a StatefulSet and a headless Service
// per directory endpoint and per node (an Indexed Job for a job node), one file each
// (docs/deploy.md).
#include <yaml-cpp/yaml.h>

#include "export/containers.hpp"

namespace brook::exporting {

namespace {

struct Names {
  std::string topology;  // dns_name of the topology
  std::string configmap() const { return topology + "-topology"; }
  std::string node(const NodeSpec& n) const { return topology + "-" + dns_name(n.name); }
  std::string directory(std::size_t i, std::size_t count) const {
    return topology + "-directory" + (count > 1 ? "-" + std::to_string(i) : "");
  }
};

void labels(YAML::Emitter& y, const std::string& topology, const std::string& node) {
  y << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "brook.io/topology" << YAML::Value << topology;
  y << YAML::Key << "brook.io/node" << YAML::Value << node;
  y << YAML::EndMap;
}

void headless_service(YAML::Emitter& y, const std::string& name, const std::string& topology,
                      const std::string& node, const std::string& port) {
  y << YAML::BeginDoc << YAML::BeginMap;
  y << YAML::Key << "apiVersion" << YAML::Value << "v1";
  y << YAML::Key << "kind" << YAML::Value << "Service";
  y << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << name;
  labels(y, topology, node);
  y << YAML::EndMap;
  y << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "clusterIP" << YAML::Value << "None";
  y << YAML::Key << "selector" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "brook.io/topology" << YAML::Value << topology;
  y << YAML::Key << "brook.io/node" << YAML::Value << node << YAML::EndMap;
  if (!port.empty()) {
    y << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << "directory";
    y << YAML::Key << "port" << YAML::Value << std::stoi(port) << YAML::EndMap << YAML::EndSeq;
  }
  y << YAML::EndMap << YAML::EndMap;
}

void probe(YAML::Emitter& y, const char* key, const std::string& check, int period_s,
           int failures) {
  y << YAML::Key << key << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "exec" << YAML::Value << YAML::BeginMap << YAML::Key << "command" << YAML::Value
    << YAML::Flow << YAML::BeginSeq << "sh"
    << "-c" << check << YAML::EndSeq << YAML::EndMap;
  y << YAML::Key << "periodSeconds" << YAML::Value << period_s;
  y << YAML::Key << "failureThreshold" << YAML::Value << failures << YAML::EndMap;
}

// The pod template's spec: one container running `script` (sh -c) with `args` after it.
void pod_spec(YAML::Emitter& y, const Names& names, const std::string& container,
              const std::string& image, const std::string& script,
              const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              const Topology& t, std::chrono::milliseconds grace, bool job, bool never) {
  const int live = liveness_seconds(t);
  const int period = std::max(1, static_cast<int>(t.directory.heartbeat.count() / 1000));
  y << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  if (job) y << YAML::Key << "restartPolicy" << YAML::Value << (never ? "Never" : "OnFailure");
  y << YAML::Key << "terminationGracePeriodSeconds" << YAML::Value
    << static_cast<int>((grace.count() + 999) / 1000) + 5;
  y << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << container;
  y << YAML::Key << "image" << YAML::Value << image;
  y << YAML::Key << "command" << YAML::Value << YAML::Flow << YAML::BeginSeq << "sh"
    << "-c" << script << container << YAML::EndSeq;
  y << YAML::Key << "args" << YAML::Value << YAML::BeginSeq;
  for (const auto& a : args)
    y << YAML::DoubleQuoted << a;
  y << YAML::EndSeq;
  y << YAML::Key << "workingDir" << YAML::Value << kStateDir;
  y << YAML::Key << "env" << YAML::Value << YAML::BeginSeq;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "POD_IP" << YAML::Key << "valueFrom"
    << YAML::Value << YAML::BeginMap << YAML::Key << "fieldRef" << YAML::Value << YAML::BeginMap
    << YAML::Key << "fieldPath" << YAML::Value << "status.podIP" << YAML::EndMap << YAML::EndMap
    << YAML::EndMap;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "BROOK_HEALTH_FILE" << YAML::Key
    << "value" << YAML::Value << kHealthPath << YAML::EndMap;
  for (const auto& [k, v] : env)
    y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << k << YAML::Key << "value"
      << YAML::Value << YAML::DoubleQuoted << v << YAML::EndMap;
  y << YAML::EndSeq;
  y << YAML::Key << "resources" << YAML::Value << YAML::BeginMap << YAML::Key << "requests"
    << YAML::Value << YAML::BeginMap << YAML::Key << "cpu" << YAML::Value << "100m" << YAML::Key
    << "memory" << YAML::Value << "64Mi" << YAML::EndMap << YAML::EndMap;
  probe(y, "readinessProbe", health_ready_check(live), period, 3);
  // A slow start (a directory not up yet) is not a hung loop: the file exists from the first
  // turn of the loop, so liveness counts only once it was written.
  probe(y, "livenessProbe",
        "[ ! -e \"$BROOK_HEALTH_FILE\" ] || { " + health_fresh_check(live) + "; }", period, 3);
  y << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "topology" << YAML::Key
    << "mountPath" << YAML::Value << "/etc/brook" << YAML::Key << "readOnly" << YAML::Value << true
    << YAML::EndMap;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "state" << YAML::Key << "mountPath"
    << YAML::Value << kStateDir << YAML::EndMap << YAML::EndSeq;
  y << YAML::EndMap << YAML::EndSeq;  // the container
  y << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "topology" << YAML::Key
    << "configMap" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value
    << names.configmap() << YAML::EndMap << YAML::EndMap;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "state" << YAML::Key << "emptyDir"
    << YAML::Value << YAML::BeginMap << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  y << YAML::EndMap;
}

void workload_head(YAML::Emitter& y, const char* api, const char* kind, const std::string& name,
                   const std::string& topology, const std::string& node, const NodeSpec* n) {
  y << YAML::BeginDoc << YAML::BeginMap;
  y << YAML::Key << "apiVersion" << YAML::Value << api;
  y << YAML::Key << "kind" << YAML::Value << kind;
  y << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << name;
  labels(y, topology, node);
  if (n != nullptr) {
    y << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "brook.io/inputs" << YAML::Value << port_list(n->inputs);
    y << YAML::Key << "brook.io/outputs" << YAML::Value << port_list(n->outputs) << YAML::EndMap;
  }
  y << YAML::EndMap;
}

void template_head(YAML::Emitter& y, const std::string& topology, const std::string& node) {
  y << YAML::Key << "template" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  labels(y, topology, node);
  y << YAML::EndMap;
}

}  // namespace

std::vector<GeneratedFile> export_kubernetes(const Topology& t, const ExportOptions& o) {
  const Names names{dns_name(t.name)};
  std::vector<GeneratedFile> files;
  {
    YAML::Emitter y;
    y << YAML::BeginDoc << YAML::BeginMap;
    y << YAML::Key << "apiVersion" << YAML::Value << "v1";
    y << YAML::Key << "kind" << YAML::Value << "ConfigMap";
    y << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << names.configmap();
    labels(y, t.name, "");
    y << YAML::EndMap;
    y << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "topology.yaml" << YAML::Value << YAML::Literal << o.topology_text;
    y << YAML::EndMap << YAML::EndMap;
    files.push_back({"configmap.yaml", std::string(y.c_str()) + "\n"});
  }
  launch::NodeCommandOptions cmd;
  cmd.topology = kTopologyPath;
  cmd.log_level = o.log_level;
  cmd.advertise = "$(POD_IP)";  // expanded by Kubernetes from the container's env
  cmd.overrides = o.overrides;
  const auto& eps = t.directory.external ? std::vector<std::string>{} : t.directory.endpoints;
  for (std::size_t i = 0; i < eps.size(); ++i) {
    const std::string port = endpoint_port(eps[i]);
    cmd.directory.push_back("tcp://" + names.directory(i, eps.size()) + ":" + port);
  }
  if (t.directory.external) cmd.directory = t.directory.endpoints;
  for (std::size_t i = 0; i < eps.size(); ++i) {
    const std::string name = names.directory(i, eps.size());
    const std::string port = endpoint_port(eps[i]);
    YAML::Emitter y;
    headless_service(y, name, t.name, "directory", port);
    workload_head(y, "apps/v1", "StatefulSet", name, t.name, "directory", nullptr);
    y << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "serviceName" << YAML::Value << name;
    y << YAML::Key << "replicas" << YAML::Value << 1;
    y << YAML::Key << "selector" << YAML::Value << YAML::BeginMap << YAML::Key << "matchLabels"
      << YAML::Value << YAML::BeginMap << YAML::Key << "brook.io/topology" << YAML::Value << t.name
      << YAML::Key << "brook.io/node" << YAML::Value << "directory" << YAML::EndMap << YAML::EndMap;
    template_head(y, t.name, "directory");
    // The directory tells nodes where its PUB socket is by the address it bound: the pod's.
    pod_spec(y, names, "directory", o.image, "exec brook-directory \"$@\"",
             launch::directory_args(cmd, "tcp://$(POD_IP):" + port), {}, t,
             std::chrono::milliseconds(1000), false, false);
    y << YAML::EndMap << YAML::EndMap << YAML::EndMap;
    files.push_back({name + ".yaml", std::string(y.c_str()) + "\n"});
  }
  for (const auto& n : t.nodes) {
    const std::string name = names.node(n);
    const std::string program = image_program(n);
    YAML::Emitter y;
    // Pods of a StatefulSet need a governing Service; nodes bind ephemeral ports, so none here.
    if (!n.job) headless_service(y, name, t.name, n.name, "");
    workload_head(y, n.job ? "batch/v1" : "apps/v1", n.job ? "Job" : "StatefulSet", name, t.name,
                  n.name, &n);
    y << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    std::string script;
    if (n.job) {
      // An Indexed Job numbers its pods 0..completions-1: the instance numbers.
      y << YAML::Key << "completionMode" << YAML::Value << "Indexed";
      y << YAML::Key << "completions" << YAML::Value << n.replicas;
      y << YAML::Key << "parallelism" << YAML::Value << n.replicas;
      y << YAML::Key << "backoffLimit" << YAML::Value
        << (n.restart.policy == RestartPolicy::kNever ? 0 : n.restart.max_restarts);
      script = "exec " + program + " --instance \"$JOB_COMPLETION_INDEX\" \"$@\"";
    } else {
      y << YAML::Key << "serviceName" << YAML::Value << name;
      y << YAML::Key << "replicas" << YAML::Value << n.replicas;
      // All replicas start together, as brook up starts them.
      y << YAML::Key << "podManagementPolicy" << YAML::Value << "Parallel";
      y << YAML::Key << "selector" << YAML::Value << YAML::BeginMap << YAML::Key << "matchLabels"
        << YAML::Value << YAML::BeginMap << YAML::Key << "brook.io/topology" << YAML::Value
        << t.name << YAML::Key << "brook.io/node" << YAML::Value << n.name << YAML::EndMap
        << YAML::EndMap;
      // A StatefulSet's pod NAME-<ordinal> is the instance number.
      script = "exec " + program + " --instance \"${HOSTNAME##*-}\" \"$@\"";
    }
    template_head(y, t.name, n.name);
    pod_spec(y, names, dns_name(n.name), o.image, script, args_without_instance(n, cmd), n.env, t,
             n.drain_timeout, n.job, n.restart.policy == RestartPolicy::kNever);
    y << YAML::EndMap << YAML::EndMap << YAML::EndMap;
    files.push_back({name + ".yaml", std::string(y.c_str()) + "\n"});
  }
  return files;
}

}  // namespace brook::exporting
