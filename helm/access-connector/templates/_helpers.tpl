{{/* Names, labels and the values derived from other values. */}}

{{- define "access-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "access-connector.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: never change them after the first install (a Deployment's selector is immutable). */}}
{{- define "access-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "access-connector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. The pod template gets only the selector labels and
     podLabels, so a chart-only upgrade does not roll the pods. */}}
{{- define "access-connector.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "access-connector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: access-connector
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The `annotations:` block of an object's metadata: commonAnnotations merged with the
     object's own (which win), or nothing when both are empty.
     include "access-connector.annotations" (dict "ctx" . "own" $annotations) */}}
{{- define "access-connector.annotations" -}}
{{- $all := merge (deepCopy (default (dict) .own)) (deepCopy (default (dict) .ctx.Values.commonAnnotations)) -}}
{{- with $all }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "access-connector.labels" -}}
{{ include "access-connector.commonLabels" . }}
app.kubernetes.io/component: connector
{{- end -}}

{{- define "access-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "access-connector.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "access-connector.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* NODE_OPTIONS: values.nodeOptions, or heap sizes derived from the memory limit:
     old space at 75% of the limit (the rest is code, buffers, the young generation and
     native memory), young generation semi-spaces capped at 4 MB (docs/operations.md). */}}
{{- define "access-connector.nodeOptions" -}}
{{- if .Values.nodeOptions -}}
{{- .Values.nodeOptions -}}
{{- else -}}
{{- $limit := toString (dig "limits" "memory" "" .Values.resources) -}}
{{- $mib := 0 -}}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?Gi$" $limit -}}
{{- $mib = mulf (float64 (trimSuffix "Gi" $limit)) 1024 -}}
{{- else if regexMatch "^[0-9]+Mi$" $limit -}}
{{- $mib = float64 (trimSuffix "Mi" $limit) -}}
{{- else -}}
{{- fail (printf "resources.limits.memory must end in Mi or Gi to size the Node heap (got %q); or set nodeOptions" $limit) -}}
{{- end -}}
{{- $old := floor (mulf $mib 0.75) | int -}}
{{- if lt $old 96 -}}
{{- fail (printf "resources.limits.memory %s leaves the Node heap %d MiB; give the connector at least 128Mi" $limit $old) -}}
{{- end -}}
{{- printf "--max-old-space-size=%d --max-semi-space-size=4" $old -}}
{{- end -}}
{{- end -}}

{{/* Whether the chart creates its Secret (token and/or proxy URL). */}}
{{- define "access-connector.chartSecretToken" -}}
{{- if and (not .Values.token.existingSecret) .Values.token.value -}}true{{- end -}}
{{- end -}}
{{- define "access-connector.chartSecretProxy" -}}
{{- if and (not .Values.proxy.existingSecret) .Values.proxy.httpsProxy -}}true{{- end -}}
{{- end -}}

{{/* The chart's ConfigMap data: the policy file, the CA bundle and the job-signing keys
     that are given as values. Its checksum goes on the pod template, so the pods roll
     when (and only when) one of these files changes; the connector reads them at start-up. */}}
{{- define "access-connector.configData" -}}
{{- if and .Values.policy (not .Values.existingPolicyConfigMap) }}
policy.yaml: |
{{- toYaml .Values.policy | nindent 2 }}
{{- else if and .Values.baselinePolicy (not .Values.existingPolicyConfigMap) }}
policy.yaml: |
{{- .Files.Get "files/baseline-policy.yaml" | trimSuffix "\n" | nindent 2 }}
{{- end }}
{{- if and .Values.controlPlane.caBundle (not .Values.controlPlane.existingCaConfigMap) }}
ca.pem: |
{{- .Values.controlPlane.caBundle | trim | nindent 2 }}
{{- end }}
{{- if .Values.controlPlane.jobPublicKey }}
job-public-key.pem: |
{{- .Values.controlPlane.jobPublicKey | trim | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Cross-field rules the schema cannot say clearly; each message names the values to fix. */}}
{{- define "access-connector.validate" -}}
{{- $managed := dict -}}
{{- range (include "access-connector.env" . | fromYamlArray) -}}
{{- $_ := set $managed .name true -}}
{{- end -}}
{{- $seen := dict -}}
{{- range .Values.extraEnv -}}
{{- if hasKey $managed .name -}}
{{- fail (printf "extraEnv sets %s, which the chart sets from its values: change that value instead (values.yaml; docs/configuration.md names the variable)" .name) -}}
{{- end -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "extraEnv sets %s twice" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled .Values.proxy.existingSecret (not .Values.networkPolicy.proxyPort) -}}
{{- fail "networkPolicy.proxyPort is required with proxy.existingSecret: the chart cannot read the proxy URL from the Secret, and without the port the NetworkPolicy would block the proxy" -}}
{{- end -}}
{{- if and .Values.token.existingSecret .Values.token.value -}}
{{- fail "token: set existingSecret or value, not both" -}}
{{- end -}}
{{- if and (eq .Values.aws.identity "irsa") (not .Values.aws.roleArn) -}}
{{- fail "aws.roleArn is required when aws.identity is irsa" -}}
{{- end -}}
{{- if and (eq .Values.aws.identity "podIdentity") .Values.aws.roleArn -}}
{{- fail "aws.roleArn is only used with aws.identity=irsa; for Pod Identity the role is associated with `aws eks create-pod-identity-association` (docs/install-eks.md)" -}}
{{- end -}}
{{- end -}}

{{/* The environment the chart sets from its values. extraEnv may not repeat one of
     these names (access-connector.validate): a second entry would silently win or lose
     depending on the consumer, so the value the chart shows would not be the one used. */}}
{{- define "access-connector.env" -}}
{{- $fullname := include "access-connector.fullname" . -}}
{{- $policy := or .Values.existingPolicyConfigMap .Values.policy .Values.baselinePolicy -}}
{{- $ca := or .Values.controlPlane.existingCaConfigMap .Values.controlPlane.caBundle -}}
{{- $proxy := or .Values.proxy.existingSecret .Values.proxy.httpsProxy -}}
- name: CONNECTOR_ID
  value: {{ .Values.connectorId | quote }}
- name: CONTROL_PLANE_URL
  value: {{ .Values.controlPlane.url | quote }}
- name: CONNECTOR_TOKEN_FILE
  value: /var/run/access-connector/token
- name: HEALTH_PORT
  value: {{ .Values.healthPort | quote }}
- name: SHUTDOWN_GRACE_SECONDS
  value: {{ .Values.connector.shutdownGraceSeconds | quote }}
- name: MAX_CONCURRENT_JOBS
  value: {{ .Values.connector.maxConcurrentJobs | quote }}
- name: JIT_ROLES
  value: {{ .Values.connector.jitRoles | quote }}
- name: GRANT_SWEEP_INTERVAL_SECONDS
  value: {{ .Values.connector.grantSweepIntervalSeconds | quote }}
- name: AWS_QUOTA_SHARE
  value: {{ .Values.connector.awsQuotaShare | quote }}
- name: LOG_LEVEL
  value: {{ .Values.connector.logLevel | quote }}
- name: LOG_FORMAT
  value: {{ .Values.connector.logFormat | quote }}
- name: NODE_OPTIONS
  value: {{ include "access-connector.nodeOptions" . | quote }}
- name: HOME
  value: /tmp
- name: CONNECTOR_ROLE_NAMES
  value: {{ compact (append .Values.aws.ownRoleNames .Values.aws.roleArn) | join "," | quote }}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.ledgerTable }}
- name: LEDGER_TABLE
  value: {{ . | quote }}
{{- end }}
{{- if $policy }}
- name: CONNECTOR_POLICY_FILE
  value: /etc/access-connector/policy/policy.yaml
{{- end }}
{{- if $ca }}
- name: CONTROL_PLANE_CA_FILE
  value: /etc/access-connector/ca/ca.pem
{{- end }}
{{- with .Values.controlPlane.pins }}
- name: CONTROL_PLANE_PINS
  value: {{ join "," . | quote }}
{{- end }}
{{- if .Values.controlPlane.jobPublicKey }}
- name: CONTROL_PLANE_JOB_PUBLIC_KEY
  value: /etc/access-connector/keys/job-public-key.pem
{{- end }}
{{- if $proxy }}
# The proxy URL may hold a password: from a Secret, never a plain value.
- name: HTTPS_PROXY
  valueFrom:
    secretKeyRef:
      name: {{ default $fullname .Values.proxy.existingSecret }}
      key: {{ ternary .Values.proxy.existingSecretKey "https-proxy" (ne .Values.proxy.existingSecret "") }}
{{- end }}
{{- with .Values.proxy.noProxy }}
- name: NO_PROXY
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The TCP port of controlPlane.url (443 when it names none). */}}
{{- define "access-connector.controlPlanePort" -}}
{{- $host := (urlParse .Values.controlPlane.url).host -}}
{{- if regexMatch ":[0-9]+$" $host -}}
{{- regexFind "[0-9]+$" $host -}}
{{- else -}}
443
{{- end -}}
{{- end -}}

{{/* The proxy port the NetworkPolicy opens: networkPolicy.proxyPort, else the port of
     proxy.httpsProxy (80 when it names none), else nothing. */}}
{{- define "access-connector.proxyPort" -}}
{{- if .Values.networkPolicy.proxyPort -}}
{{- .Values.networkPolicy.proxyPort -}}
{{- else if .Values.proxy.httpsProxy -}}
{{- $host := (urlParse .Values.proxy.httpsProxy).host -}}
{{- if regexMatch ":[0-9]+$" $host -}}
{{- regexFind "[0-9]+$" $host -}}
{{- else -}}
80
{{- end -}}
{{- end -}}
{{- end -}}
