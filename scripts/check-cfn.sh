#!/usr/bin/env bash
# Checks the CloudFormation templates in cloudformation/, offline (CI runs it; it installs
# its tools with scripts/install-ship-tools.sh):
#   1. cfn-lint, informational findings included: no finding of any level;
#   2. checkov (framework cloudformation): no failed check; each skip sits next to the
#      resource it concerns, with its reason (Metadata: checkov: skip);
#   3. no ARN with a literal partition (every template must work in aws-cn and aws-us-gov);
#   4. consistency the linters cannot see: the member role of management-roles.yaml has
#      the policies of member-role.yaml; the SSM document is src/access/documents/local-user.json;
#      the stop timeout is the grace period + 15 s and the heap about 75% of the memory.
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

print('\n'.join(problems) if problems else 'ok')
sys.exit(1 if problems else 0)
EOF
then
  summary consistency "ok: member role policies, SSM document, stop timeout and heap"
else
  cat "$work/consistency.log"
  fail consistency "see above"
fi

exit "$failed"
