#!/usr/bin/python3
"""Checks deploy/ without a container runtime or a cluster: every YAML and JSON file parses, and
the numbers that must agree across files do.

  check_manifests.py REPOSITORY_ROOT

- the stop timeouts (compose stop_grace_period, Kubernetes terminationGracePeriodSeconds) exceed
  the server's drain (GHOST_GRACE_PERIOD_S) plus the preStop pause;
- the Kubernetes user is the image's, non-root; its probes ask the health service names the
  server sets ("" for liveness, "ghost.v1.Inference" for readiness);
- the image exposes the ports the Deployment and Service name;
- every dashboard query uses the datasource uid that Grafana's provisioning defines.
Prints each problem; exit status 1 when there is any.
"""
import glob
import json
import os
import re
import sys

import yaml

problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def seconds(duration):
    """'40s', '1m30s' or a number of seconds."""
    if isinstance(duration, (int, float)):
        return float(duration)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    check(parts, f"unreadable duration {duration!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(value) * scale[unit] for value, unit in parts)


def main():
    root = sys.argv[1]
    deploy = os.path.join(root, "deploy")

    documents = {}
    for path in sorted(glob.glob(os.path.join(deploy, "**", "*.y*ml"), recursive=True)):
        try:
            with open(path) as f:
                documents[os.path.relpath(path, deploy)] = [d for d in yaml.safe_load_all(f) if d]
        except yaml.YAMLError as error:
            problems.append(f"{path}: {error}")
    with open(os.path.join(deploy, "grafana", "ghost-serve.json")) as f:
        dashboard = json.load(f)

    with open(os.path.join(deploy, "Dockerfile")) as f:
        dockerfile = f.read()
    grace = float(re.search(r"GHOST_GRACE_PERIOD_S=(\d+)", dockerfile).group(1))
    image_uid = int(re.search(r"useradd .*--uid (\d+)", dockerfile).group(1))
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", dockerfile, re.M).group(1).split()}

    compose = documents["compose.yaml"][0]
    server = compose["services"]["ghostserve"]
    check(seconds(server["stop_grace_period"]) > grace,
          f"compose stop_grace_period {server['stop_grace_period']} <= drain {grace} s")

    k8s = {d["kind"]: d for name, docs in documents.items() if name.startswith("k8s/")
           for d in docs}
    pod = k8s["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    k8s_grace = float(env.get("GHOST_GRACE_PERIOD_S", grace))
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pause = float(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    check(pod["terminationGracePeriodSeconds"] > k8s_grace + pause,
          f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} <= drain "
          f"{k8s_grace} s + preStop {pause} s")
    security = pod["securityContext"]
    check(security.get("runAsNonRoot") is True, "the pod does not set runAsNonRoot")
    check(security.get("runAsUser") == image_uid,
          f"runAsUser {security.get('runAsUser')} is not the image's user {image_uid}")
    check(container["readinessProbe"]["grpc"]["service"] == "ghost.v1.Inference",
          "readiness must probe ghost.v1.Inference")
    check(container["livenessProbe"]["grpc"]["service"] == "", "liveness must probe \"\"")
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(set(container_ports.values()) == exposed,
          f"Deployment ports {sorted(container_ports.values())} != EXPOSE {sorted(exposed)}")
    for port in k8s["Service"]["spec"]["ports"]:
        check(port["targetPort"] in container_ports, f"Service port {port['name']} targets nothing")
    monitor_port = k8s["ServiceMonitor"]["spec"]["endpoints"][0]["port"]
    check(monitor_port in {p["name"] for p in k8s["Service"]["spec"]["ports"]},
          f"ServiceMonitor port {monitor_port} is not a Service port")

    datasource_uids = {d["uid"] for name, docs in documents.items() if "datasources" in name
                       for doc in docs for d in doc["datasources"]}

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    ids = []
    for panel in panels(dashboard["panels"]):
        ids.append(panel["id"])
        for target in panel.get("targets", []):
            check(target["datasource"]["uid"] in datasource_uids,
                  f"panel {panel['title']}: datasource {target['datasource']['uid']} is not "
                  f"provisioned ({sorted(datasource_uids)})")
            check(target.get("expr"), f"panel {panel['title']}: a target without a query")
    check(len(ids) == len(set(ids)), "dashboard panel ids repeat")

    for problem in problems:
        print(f"check_manifests: {problem}")
    print(f"check_manifests: {len(documents)} YAML files, {len(ids)} panels, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
