#!/usr/bin/env bash
# Checks the Helm chart helm/access-connector, offline (CI runs it; it installs its tools):
#   1. helm lint --strict with every value set in the chart's ci/*-values.yaml (chart-testing's
#      layout; the bare defaults
#      must fail: connectorId, controlPlane.url, the token and the image are required);
#   2. helm template of every value set, validated by kubernetes-validate --strict against
#      the Kubernetes versions below; ServiceMonitor (a CRD it has no schema for) is checked
#      by the assertions of step 4 instead;
#   3. bad values must make `helm template` fail, for the reason expected;
#   4. assertions on the rendered manifests (token as a file, drain time, heap sizes, the
#      ServiceMonitor's wiring, no random values that would roll pods on every upgrade);
#   5. checkov (framework kubernetes) on the rendered manifests, with the skips listed below.
# Usage: bash scripts/check-helm.sh        (exit code 0 when every step passed)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
chart=helm/access-connector
values_dir=$chart/ci
# Render for the version we pin; validate against it and against the chart's kubeVersion floor.
render_version=1.33.0
validate_versions=(1.25.0 1.33.0)
namespace=access-connector

# Checks skipped for every value set, each with why.
declare -A checkov_skips=(
  [CKV_K8S_11]="no CPU limit by default: throttling a mostly idle daemon only stretches its heartbeat and job timings (values.yaml resources; custom-resources.yaml sets one)"
  [CKV_K8S_15]="pullPolicy IfNotPresent: images are referenced by release tag or digest, which never change content"
  [CKV_K8S_43]="a digest is optional (image.digest, full-irsa.yaml sets it); by default the tag is the chart's appVersion"
)
# Skipped only for the value sets that configure a proxy: the connector reads HTTPS_PROXY
# from its environment only, so the chart passes it with secretKeyRef (never a plain value).
proxy_skip="CKV_K8S_35"

bash scripts/install-ship-tools.sh
helm="$root/.tools/bin/helm"
venv="$root/.tools/ship-venv/bin"
# Checkov must not call home: no update check, no download of guidelines or policies.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
summary() { printf 'check-helm: %-16s %s\n' "$1" "$2"; }
fail() { summary "$1" "FAILED: $2"; failed=1; }
render() { "$helm" template ac "$chart" --namespace "$namespace" --kube-version "$render_version" "$@"; }

value_files=("$values_dir"/*-values.yaml)
[ "${#value_files[@]}" -gt 0 ] && [ -f "${value_files[0]}" ] || { echo "check-helm: no value sets in $values_dir" >&2; exit 1; }

# --- 1. lint ---------------------------------------------------------------------------
n=0
for f in "${value_files[@]}"; do
  if "$helm" lint --strict --kube-version "$render_version" "$chart" -f "$f" >"$work/lint.log" 2>&1; then
    n=$((n + 1))
  else
    cat "$work/lint.log"; fail lint "$f"
  fi
done
if "$helm" lint --strict --kube-version "$render_version" "$chart" >"$work/lint.log" 2>&1; then
  fail lint "the bare defaults passed, but connectorId and the other required values should be refused"
else
  n=$((n + 1))
fi
summary lint "$n/$(( ${#value_files[@]} + 1 )) passed (each value set; bare defaults refused)"

# --- 2. render and validate --------------------------------------------------------------
# Rendered once for the version we pin (out/, what the assertions and checkov read) and
# once per validated version (fields such as the PDB's unhealthyPodEvictionPolicy depend on
# the API server's version, as helm install would see it).
mkdir -p "$work/out"
n=0
for f in "${value_files[@]}"; do
  name="$(basename "$f" -values.yaml)"
  if render -f "$f" >"$work/out/$name.yaml" 2>"$work/render.log"; then
    n=$((n + 1))
  else
    cat "$work/render.log"; fail template "$f"
  fi
done
resources=$(cat "$work"/out/*.yaml | grep -c '^kind:' || true)
summary template "$n/${#value_files[@]} value sets rendered ($resources objects)"

for v in "${validate_versions[@]}"; do
  mkdir -p "$work/out-$v"
  for f in "${value_files[@]}"; do
    "$helm" template ac "$chart" --namespace "$namespace" --kube-version "$v" -f "$f" >"$work/out-$v/$(basename "$f")" 2>"$work/render.log" \
      || { cat "$work/render.log"; fail "template $v" "$f"; }
  done
  "$venv/kubernetes-validate" --strict --quiet -k "$v" "$work/out-$v"/*.yaml >"$work/kv.log" 2>&1 || true
  # Unknown kinds only warn; the one we expect (ServiceMonitor) is checked in step 4.
  errors=$(grep -v -E '^WARN .*Couldn.t find schema for kind ServiceMonitor with api version monitoring.coreos.com/v1' "$work/kv.log" || true)
  skipped=$(grep -c '^WARN .*ServiceMonitor' "$work/kv.log" || true)
  if [ -n "$errors" ]; then
    echo "$errors"; fail "validate $v" "kubernetes-validate --strict"
  else
    summary "validate $v" "$(( resources - skipped ))/$resources objects valid (strict); $skipped ServiceMonitor left to the assertions (CRD, no bundled schema)"
  fi
done

# --- 3. bad values are refused -----------------------------------------------------------
base="$values_dir/minimal-values.yaml"
# Each case: the expected text in helm's error | the helm arguments.
bad_cases=(
  "/connectorId|--set connectorId="
  "/replicas': got string|--set replicas=two"
  "additional properties 'replicaCount' not allowed|--set replicaCount=2"
  "additional properties 'shutdownGrace' not allowed|--set connector.shutdownGrace=30"
  "/controlPlane/url|--set controlPlane.url=https://control-plane.example.com"
  "'anyOf' failed|--set token.existingSecret="
  "set existingSecret or value, not both|--set token.value=abc"
  "aws.roleArn is required|--set aws.identity=irsa"
  "/aws/identity|--set aws.identity=kiam"
  "/connector/shutdownGraceSeconds|--set connector.shutdownGraceSeconds=-1"
  "resources.limits.memory must end in Mi or Gi|--set resources.limits.memory=512M"
  "/policy|--set policy.readOnly=true"
  "/baselinePolicy|--set baselinePolicy=maybe"
  "/image/digest|--set image.digest=latest"
  "extraEnv sets CONNECTOR_ID, which the chart sets|--set extraEnv[0].name=CONNECTOR_ID --set extraEnv[0].value=other"
  "extraEnv sets LOG_LEVEL, which the chart sets|--set extraEnv[0].name=LOG_LEVEL --set extraEnv[0].value=debug"
  "extraEnv sets FOO twice|--set extraEnv[0].name=FOO --set extraEnv[0].value=1 --set extraEnv[1].name=FOO --set extraEnv[1].value=2"
  "/networkPolicy/httpsCidrs/0|--set networkPolicy.httpsCidrs[0]=999.1.1.1/99"
  "/networkPolicy/proxyCidrs/0|--set networkPolicy.proxyCidrs[0]=10.0.0.0/33"
  "/networkPolicy/httpsCidrs/0|--set networkPolicy.httpsCidrs[0]=10.0.0.1"
  "networkPolicy.proxyPort is required with proxy.existingSecret|--set networkPolicy.enabled=true --set proxy.existingSecret=proxy-url"
  "/extraVolumeMounts/0|--set extraVolumeMounts[0].name=x --set extraVolumeMounts[0].mountPath=relative"
  "/topologySpreadConstraints/0|--set topologySpreadConstraints[0].maxSkew=1 --set topologySpreadConstraints[0].topologyKey=zone"
)
n=0
for case in "${bad_cases[@]}"; do
  expected="${case%%|*}"
  read -r -a args <<<"${case#*|}"
  if render -f "$base" "${args[@]}" >/dev/null 2>"$work/bad.log"; then
    fail refused "${args[*]} was accepted"
  elif ! grep -qF -- "$expected" "$work/bad.log"; then
    cat "$work/bad.log"; fail refused "${args[*]} failed, but not with \"$expected\""
  else
    n=$((n + 1))
  fi
done
summary refused "$n/${#bad_cases[@]} bad value sets refused for the expected reason"
# Turning the baseline off means no policy at all: no policy file mounted.
if ! render -f "$base" --set baselinePolicy=false >"$work/nopolicy.yaml" 2>"$work/render.log"; then
  cat "$work/render.log"; fail baseline "baselinePolicy=false does not render"
elif grep -q 'CONNECTOR_POLICY_FILE' "$work/nopolicy.yaml"; then
  fail baseline "baselinePolicy=false still mounts a policy"
else
  summary baseline "ok: on by default (checked in step 4), off with baselinePolicy=false"
fi

# --- 4. assertions on the rendered manifests ---------------------------------------------
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")
pkg_version=$("$venv/python" -c 'import json; print(json.load(open("package.json"))["version"])')
[ "$app_version" = "$pkg_version" ] || fail assertions "Chart.yaml appVersion $app_version is not package.json's $pkg_version"
# Helm's conventions: the metadata a chart repository shows, pointing where package.json does.
"$venv/python" - "$chart/Chart.yaml" <<'PY' || fail assertions "Chart.yaml metadata"
import json, sys, yaml
chart = yaml.safe_load(open(sys.argv[1])); pkg = json.load(open("package.json"))
missing = [k for k in ("icon", "home", "sources", "maintainers", "kubeVersion", "description") if not chart.get(k)]
if missing: sys.exit(f"Chart.yaml lacks {missing}")
if chart["home"] != pkg["homepage"] or pkg["repository"]["url"].removesuffix(".git") not in chart["sources"]:
    sys.exit("Chart.yaml home/sources differ from package.json homepage/repository")
if not chart["icon"].startswith("https://"): sys.exit("Chart.yaml icon must be an https URL")
PY
if random=$(grep -nE '\{\{[^}]*\b(randAlpha|randAlphaNum|randNumeric|randAscii|randBytes|uuidv4|now|genPrivateKey|genCA)\b' "$chart"/templates/*); then
  echo "$random"; fail assertions "templates use a value that changes on every render (pods would roll on every upgrade)"
fi
if "$venv/python" - "$work/out" >"$work/assert.log" 2>&1 <<'PY'
import glob, os, sys, yaml

out = sys.argv[1]
problems, checked = [], 0

def check(cond, what):
    global checked
    checked += 1
    if not cond:
        problems.append(what)

import ipaddress
expected_node_options = {
    "minimal": "--max-old-space-size=384 --max-semi-space-size=4",
    "nodeoptions-gi": "--max-old-space-size=1152 --max-semi-space-size=4",
    "custom-resources": "--max-old-space-size=700 --max-semi-space-size=8",
}
for path in sorted(glob.glob(os.path.join(out, "*.yaml"))):
    name = os.path.basename(path)[:-5]
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    dep = kinds["Deployment"][0]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c.get("env", [])}
    value = lambda k: env[k].get("value")
    # The token is a file, never an environment value.
    check("CONNECTOR_TOKEN" not in env, f"{name}: CONNECTOR_TOKEN in the environment")
    check(value("CONNECTOR_TOKEN_FILE") == "/var/run/access-connector/token", f"{name}: CONNECTOR_TOKEN_FILE")
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    tok = mounts.get("/var/run/access-connector")
    check(tok is not None and "subPath" not in tok, f"{name}: token directory mount (no subPath, so rotation reaches it)")
    # Secrets and the proxy URL only ever through secretKeyRef.
    if "HTTPS_PROXY" in env:
        check("secretKeyRef" in env["HTTPS_PROXY"].get("valueFrom", {}), f"{name}: HTTPS_PROXY not from a Secret")
    # The platform waits for the drain: grace + 15 s.
    grace = int(value("SHUTDOWN_GRACE_SECONDS"))
    check(pod["terminationGracePeriodSeconds"] == grace + 15, f"{name}: terminationGracePeriodSeconds != grace + 15")
    if name in expected_node_options:
        check(value("NODE_OPTIONS") == expected_node_options[name], f"{name}: NODE_OPTIONS {value('NODE_OPTIONS')}")
    # Hardening the chart must keep whatever the values say.
    sc = c["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"] and sc.get("runAsUser") == 65532,
          f"{name}: container securityContext")
    check(pod.get("automountServiceAccountToken") is False, f"{name}: automountServiceAccountToken")
    check({p["name"] for p in c["ports"]} == {"health"}, f"{name}: named port health")
    for probe, path_ in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        check(c.get(probe, {}).get("httpGet", {}).get("path") == path_ and c[probe]["httpGet"]["port"] == "health",
              f"{name}: {probe}")
    # Only file contents may roll the pods: no chart version or release revision on the template.
    tmeta = dep["spec"]["template"]["metadata"]
    for k in tmeta.get("labels", {}):
        check(k not in ("helm.sh/chart", "app.kubernetes.io/version"), f"{name}: {k} on the pod template rolls pods on chart upgrades")
    # A PodDisruptionBudget only with more than one replica, and one that never blocks a
    # drain while the replicas are unready (control plane unreachable).
    check(("PodDisruptionBudget" in kinds) == (dep["spec"]["replicas"] > 1), f"{name}: PodDisruptionBudget vs replicas")
    for pdb in kinds.get("PodDisruptionBudget", []):
        check(pdb["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow", f"{name}: PDB unhealthyPodEvictionPolicy")
    # extraEnv never repeats a name.
    names = [e["name"] for e in c.get("env", [])]
    check(len(names) == len(set(names)), f"{name}: duplicate env names {sorted(n for n in names if names.count(n) > 1)}")
    # The NetworkPolicy opens the control plane's own port and the proxy's.
    for np_ in kinds.get("NetworkPolicy", []):
        from urllib.parse import urlsplit
        cp = urlsplit(value("CONTROL_PLANE_URL"))
        ports = {p["port"] for rule in np_["spec"]["egress"] for p in rule.get("ports", [])}
        check((cp.port or 443) in ports and 443 in ports, f"{name}: NetworkPolicy egress {sorted(ports)} lacks the control plane's port {cp.port or 443}")
        for rule in np_["spec"]["egress"]:
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    ipaddress.ip_network(peer["ipBlock"]["cidr"])  # raises on a bad CIDR
    if name == "egress-ports":
        np_ports = {p["port"] for rule in kinds["NetworkPolicy"][0]["spec"]["egress"] for p in rule.get("ports", [])}
        check({443, 8443, 3128} <= np_ports, f"{name}: egress ports {sorted(np_ports)}, expected 443, 8443 and 3128")
    if name == "extras":
        for d in docs:
            meta = d["metadata"]
            check(meta.get("labels", {}).get("team") == "platform-security", f"{name}: {d['kind']} lacks commonLabels")
            check(meta.get("annotations", {}).get("owner") == "platform-security@example.com", f"{name}: {d['kind']} lacks commonAnnotations")
        check(tmeta["labels"].get("team") == "platform-security", f"{name}: pod template lacks commonLabels")
        check(any(v["name"] == "extra-ca" for v in pod["volumes"]) and "/etc/corporate-ca" in mounts, f"{name}: extraVolumes/extraVolumeMounts")
        (tsc,) = pod["topologySpreadConstraints"]
        check(tsc["whenUnsatisfiable"] == "DoNotSchedule" and tsc["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"],
              f"{name}: topologySpreadConstraints {tsc}")
        check(pod["securityContext"].get("fsGroupChangePolicy") == "OnRootMismatch", f"{name}: podSecurityContext override")
        check(value("AWS_QUOTA_MULTIPLIER") == "2", f"{name}: extraEnv")
    # The ServiceMonitor (no schema offline): it must select the metrics Service, whose port
    # it names, and that Service must select the Deployment's pods.
    for sm in kinds.get("ServiceMonitor", []):
        check(sm["apiVersion"] == "monitoring.coreos.com/v1", f"{name}: ServiceMonitor apiVersion")
        services = [s for s in kinds.get("Service", [])
                    if all(s["metadata"].get("labels", {}).get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())]
        check(len(services) == 1, f"{name}: ServiceMonitor selects {len(services)} Services, not 1")
        if services:
            svc = services[0]
            ports = {p["name"] for p in svc["spec"]["ports"]}
            pod_labels = dep["spec"]["template"]["metadata"]["labels"]
            check(all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()), f"{name}: metrics Service does not select the pods")
            check(sm["metadata"]["namespace"] in sm["spec"]["namespaceSelector"]["matchNames"], f"{name}: ServiceMonitor namespaceSelector")
            for ep in sm["spec"]["endpoints"]:
                check(ep["port"] in ports and ep["path"] == "/metrics", f"{name}: ServiceMonitor endpoint {ep}")
                check(set(ep) <= {"port", "path", "scheme", "interval", "scrapeTimeout"}, f"{name}: unexpected ServiceMonitor endpoint keys {set(ep)}")
    # With no policy values, the policy mounted is the baseline, byte for byte the one
    # docs/examples/policies/baseline.yaml holds (the single source).
    if name == "minimal":
        cms = [cm for cm in kinds.get("ConfigMap", []) if "policy.yaml" in cm.get("data", {})]
        check(len(cms) == 1 and cms[0]["data"]["policy.yaml"] == open("docs/examples/policies/baseline.yaml").read(),
              f"{name}: the rendered policy.yaml is not docs/examples/policies/baseline.yaml")
        check(value("CONNECTOR_POLICY_FILE") == "/etc/access-connector/policy/policy.yaml", f"{name}: baseline policy not mounted")
    # The dashboard ConfigMap holds valid JSON whose queries use the connector's metrics.
    for cm in kinds.get("ConfigMap", []):
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            import json
            dash = json.loads(cm["data"]["access-connector.json"])
            exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
            for metric in ("access_connector_connection_state", "access_connector_ready", "access_connector_reconnects_total",
                           "access_connector_jobs_received_total", "access_connector_jobs_completed_total",
                           "access_connector_jobs_running", "access_connector_jobs_queued",
                           "access_connector_job_duration_seconds_bucket", "access_connector_outbox_depth",
                           "access_connector_aws_calls_total", "access_connector_aws_call_duration_seconds_bucket"):
                check(metric in exprs, f"{name}: dashboard has no panel on {metric}")
for p in problems:
    print("  " + p)
print(f"{checked - len(problems)}/{checked} assertions held")
sys.exit(1 if problems else 0)
PY
then
  summary assertions "$(tail -n 1 "$work/assert.log")"
else
  cat "$work/assert.log"; fail assertions "see above"
fi

# --- 5. checkov ----------------------------------------------------------------------------
for id in $(printf '%s\n' "${!checkov_skips[@]}" | sort); do echo "check-helm: checkov skips $id: ${checkov_skips[$id]}"; done
echo "check-helm: checkov skips $proxy_skip for value sets with a proxy: HTTPS_PROXY has no file form in the connector; it comes from a Secret via secretKeyRef"
skip_list="$(IFS=,; echo "${!checkov_skips[*]}")"
mkdir -p "$work/ck-plain" "$work/ck-proxy"
for f in "$work"/out/*.yaml; do
  if grep -q 'name: HTTPS_PROXY' "$f"; then cp "$f" "$work/ck-proxy/"; else cp "$f" "$work/ck-plain/"; fi
done
ck_total=0
ck_failed=0
for set in plain proxy; do
  dir="$work/ck-$set"
  [ -n "$(ls -A "$dir")" ] || continue
  skips="$skip_list"
  [ "$set" = proxy ] && skips="$skips,$proxy_skip"
  if "$venv/checkov" -d "$dir" --framework kubernetes --skip-download --skip-check "$skips" \
       --quiet --compact -o cli >"$work/checkov.log" 2>&1; then
    passed=$(grep -oE 'Passed checks: [0-9]+' "$work/checkov.log" | grep -oE '[0-9]+' || echo 0)
    ck_total=$((ck_total + passed))
  else
    cat "$work/checkov.log"; fail checkov "$set value sets"; ck_failed=1
  fi
done
[ "$ck_failed" -eq 0 ] && summary checkov "$ck_total checks passed, 0 failed ($(( ${#checkov_skips[@]} + 1 )) check ids skipped, listed above)"

if [ "$failed" -ne 0 ]; then
  echo "check-helm: FAILED" >&2
  exit 1
fi
echo "check-helm: all steps passed"
