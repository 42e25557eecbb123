#!/usr/bin/env bash
# Checks the CloudFormation templates in cloudformation/, offline (CI runs it; it installs
# its tools with scripts/install-ship-tools.sh):
#   1. cfn-lint, informational findings included: no finding of any level;
#   2. checkov (framework cloudformation): no failed check; each skip sits next to the
#      resource it concerns, with its reason (Metadata: checkov: skip);
#   3. no ARN with a literal partition (every template must work in aws-cn and aws-us-gov);
#   4. consistency the linters cannot see: the member role of management-roles.yaml has
#      the policies of member-role.yaml; the SSM document is src/access/documents/local-user.json;
#      the stop timeout is the grace period + 15 s and the heap about 75% of the memory;
#      every parameter grouped and labelled; the version in each template's metadata is
#      package.json's; every taggable resource carries the Tags parameter; the quick-create
#      links pre-fill every parameter without a default and no secret; the VPC endpoints.
# Usage: bash scripts/check-cfn.sh        (exit code 0 when every step passed)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
templates=(cloudformation/*.yaml)
[ -f "${templates[0]}" ] || { echo "check-cfn: no templates in cloudformation/" >&2; exit 1; }

bash scripts/install-ship-tools.sh
venv="$root/.tools/ship-venv/bin"
# Checkov must not call home: no update check, no download of guidelines or policies.
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
summary() { printf 'check-cfn: %-12s %s\n' "$1" "$2"; }
fail() { summary "$1" "FAILED: $2"; failed=1; }

# --- 1. cfn-lint ---------------------------------------------------------------------------
if "$venv/cfn-lint" --include-checks I -- "${templates[@]}" >"$work/lint.log" 2>&1; then
  summary cfn-lint "ok: ${#templates[@]} templates, 0 findings ($("$venv/cfn-lint" --version))"
else
  cat "$work/lint.log"
  fail cfn-lint "$(grep -cE '^[EWI][0-9]{4} ' "$work/lint.log" || true) findings"
fi

# --- 2. checkov ------------------------------------------------------------------------------
if "$venv/checkov" -d cloudformation --framework cloudformation --compact --quiet --skip-download >"$work/checkov.log" 2>&1; then
  counts="$(grep -oE 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$work/checkov.log" || true)"
  summary checkov "ok: ${counts:-no result line}"
  [ -n "$counts" ] || fail checkov "no result line in the output"
else
  cat "$work/checkov.log"
  fail checkov "$(grep -oE 'Failed checks: [0-9]+' "$work/checkov.log" || echo 'did not run')"
fi

# --- 3. partitions ---------------------------------------------------------------------------
if grep -nE 'arn:aws(-[a-z-]+)?:' "${templates[@]}" >"$work/arn.log"; then
  cat "$work/arn.log"
  fail partition "a literal partition in an ARN; write arn:\${AWS::Partition}:"
else
  summary partition "ok: every ARN uses \${AWS::Partition}"
fi

# --- 4. consistency --------------------------------------------------------------------------
if "$venv/python" - >"$work/consistency.log" 2>&1 <<'EOF'
import json, sys
from cfnlint.decode import decode

def load(path):
    template, matches = decode(path)
    if matches:
        sys.exit(f'{path}: cannot parse: {matches}')
    return json.loads(json.dumps(template))  # plain dicts and lists

problems = []
mgmt = load('cloudformation/management-roles.yaml')
member = load('cloudformation/member-role.yaml')
ecs = load('cloudformation/connector-ecs.yaml')

# The management account's member role is the StackSet's member role. Only difference
# allowed: member-role.yaml names the connector role when one is given.
a = json.dumps(mgmt['Resources']['MemberRole']['Properties']['Policies'], sort_keys=True)
b = json.dumps(member['Resources']['MemberRole']['Properties']['Policies'], sort_keys=True)
b = b.replace(json.dumps({'Fn::If': ['HasConnectorRole', {'Ref': 'ConnectorRoleArn'}, {'Ref': 'AWS::NoValue'}]}, sort_keys=True),
              json.dumps({'Ref': 'ConnectorRoleArn'}))
if a != b:
    problems.append('MemberRole policies differ between management-roles.yaml and member-role.yaml')

doc = member['Resources']['LocalUserDocument']['Properties']['Content']
if doc != json.load(open('src/access/documents/local-user.json')):
    problems.append('LocalUserDocument Content differs from src/access/documents/local-user.json')

grace = [str(v) for v in ecs['Parameters']['ShutdownGraceSeconds']['AllowedValues']]
stop = ecs['Mappings']['StopTimeout']
if sorted(grace) != sorted(stop) or any(stop[g]['Seconds'] != int(g) + 15 or stop[g]['Seconds'] > 120 for g in grace):
    problems.append('StopTimeout mapping is not ShutdownGraceSeconds + 15 (at most 120) for every allowed value')
memory = ecs['Parameters']['Memory']['AllowedValues']
heap = ecs['Mappings']['Heap']
if sorted(memory) != sorted(heap) or any(not 0.7 <= heap[m]['MiB'] / int(m) <= 0.8 for m in memory):
    problems.append('Heap mapping is not about 75% of every allowed Memory value')

# Console: every parameter in exactly one group and labelled; the release in the metadata.
import glob, re
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
version = json.load(open('package.json'))['version']
templates = {path.split('/')[-1]: load(path) for path in sorted(glob.glob('cloudformation/*.yaml'))}
for name, t in templates.items():
    params = set(t.get('Parameters', {}))
    ui = t.get('Metadata', {}).get('AWS::CloudFormation::Interface', {})
    grouped = [p for g in ui.get('ParameterGroups', []) for p in g['Parameters']]
    labels = ui.get('ParameterLabels', {})
    if sorted(grouped) != sorted(params):
        problems.append(f'{name}: parameter groups {sorted(set(grouped) ^ params)} (each parameter in exactly one group: {len(grouped)} entries, {len(params)} parameters)')
    if set(labels) != params or not all(v.get('default') for v in labels.values()):
        problems.append(f'{name}: parameter labels differ from the parameters: {sorted(set(labels) ^ params)}')
    found = t.get('Metadata', {}).get('AccessConnector', {}).get('Version')
    if str(found) != version:
        problems.append(f'{name}: Metadata.AccessConnector.Version is {found}, package.json says {version}')
    # Tags: every resource whose type takes a tag list carries the three entries of the Tags parameter.
    if t['Parameters'].get('Tags', {}).get('Type') != 'String':
        problems.append(f'{name}: no Tags parameter')
    for rid, r in t['Resources'].items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema('us-east-1', r['Type']).schema
        if schema['properties'].get('Tags', {}).get('type') != 'array':
            continue
        conds = [x.get('Fn::If', [None])[0] for x in r.get('Properties', {}).get('Tags', []) if isinstance(x, dict)]
        if conds[:3] != ['HasTag1', 'HasTag2', 'HasTag3']:
            problems.append(f'{name}: {rid} ({r["Type"]}) does not carry the Tags parameter')

# The management stack passes Tags on to its StackSet.
ss = mgmt['Resources']['MemberStackSet']['Properties']['Parameters']
if {'ParameterKey': 'Tags', 'ParameterValue': {'Ref': 'Tags'}} not in ss:
    problems.append('MemberStackSet does not pass Tags to member-role.yaml')
if sorted(p['ParameterKey'] for p in ss) != sorted(member['Parameters']):
    problems.append('MemberStackSet parameters differ from the parameters of member-role.yaml')

# Quick-create links pre-fill every parameter without a default, and no NoEcho one.
for doc in ['README.md', 'docs/install-ecs.md']:
    text = open(doc).read()
    links = re.findall(r'#/stacks/quickcreate\s*\?templateURL=([^\s&]+)((?:\s*&[^\s&`]+)+)', text)
    if not links:
        problems.append(f'{doc}: no quick-create link')
    for url, rest in links:
        tname = re.sub(r'.*%2F', '', url)
        t = templates.get(tname)
        if t is None:
            problems.append(f'{doc}: quick-create link for unknown template {tname}'); continue
        given = set(re.findall(r'&param_(\w+)=', rest))
        needed = {k for k, p in t['Parameters'].items() if 'Default' not in p and not p.get('NoEcho')}
        secret = {k for k, p in t['Parameters'].items() if p.get('NoEcho')}
        if needed - given:
            problems.append(f'{doc}: the {tname} link lacks {sorted(needed - given)}')
        if given & secret:
            problems.append(f'{doc}: the {tname} link carries secrets {sorted(given & secret)}')
        if given - set(t['Parameters']):
            problems.append(f'{doc}: the {tname} link names unknown parameters {sorted(given - set(t["Parameters"]))}')

# VPC endpoints (CreateVpcEndpoints): the services a connector without NAT needs.
services = {}
for rid, r in ecs['Resources'].items():
    if r['Type'] == 'AWS::EC2::VPCEndpoint':
        sn = r['Properties']['ServiceName']
        sn = sn['Fn::Sub'] if isinstance(sn, dict) else sn
        services[re.sub(r'^com\.amazonaws\.(\$\{AWS::Region\}|us-east-1)\.', '', sn)] = (r['Condition'], r['Properties']['VpcEndpointType'])
want = {'sts': 'Interface', 'ssm': 'Interface', 'identitystore': 'Interface', 'secretsmanager': 'Interface', 'logs': 'Interface',
        'ecr.api': 'Interface', 'ecr.dkr': 'Interface', 'ssmmessages': 'Interface', 'organizations': 'Interface', 'com.amazonaws.iam': 'Interface',
        'dynamodb': 'Gateway', 's3': 'Gateway'}
if {k: v[1] for k, v in services.items()} != want or not all(c.startswith('IsVpc') for c, _ in services.values()):
    problems.append(f'VPC endpoints of connector-ecs.yaml: {services}')

# The egress rule, its condition and the ControlPlanePort output read the same port.
port = ecs['Outputs']['ControlPlanePort']['Value']
rule = ecs['Resources']['ControlPlaneEgress']['Properties']
if rule['FromPort'] != port or rule['ToPort'] != port or ecs['Conditions']['IsControlPlaneOtherPort'] != {'Fn::Not': [{'Fn::Equals': ['443', port]}]}:
    problems.append('ControlPlaneEgress, IsControlPlaneOtherPort and the ControlPlanePort output do not read the same port')

print('\n'.join(problems) if problems else 'ok')
sys.exit(1 if problems else 0)
EOF
then
  summary consistency "ok: member role policies, SSM document, stop timeout, heap, labels, version, Tags, links, endpoints"
else
  cat "$work/consistency.log"
  fail consistency "see above"
fi

exit "$failed"
