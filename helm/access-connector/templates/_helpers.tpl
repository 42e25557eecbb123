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
