{{- define "dossier.fullname" -}}
{{- printf "%s-dossier" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dossier.labels" -}}
app.kubernetes.io/name: dossier
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dossier.milvusUri" -}}
{{- if .Values.milvusUri -}}{{ .Values.milvusUri }}{{- else -}}http://{{ .Release.Name }}-milvus:19530{{- end -}}
{{- end -}}

{{- define "dossier.llmBaseUrl" -}}
{{- if .Values.config.llmBaseUrl -}}{{ .Values.config.llmBaseUrl }}{{- else -}}http://{{ include "dossier.fullname" . }}-vllm:8000/v1{{- end -}}
{{- end -}}

{{/* The environment shared by the API and the workers. */}}
{{- define "dossier.env" -}}
- name: DOSSIER_DATA_DIR
  value: /data
- name: DOSSIER_TENANT
  value: {{ .Values.config.tenant | quote }}
- name: DOSSIER_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: DOSSIER_MILVUS__URI
  value: {{ include "dossier.milvusUri" . | quote }}
- name: DOSSIER_CATALOG__URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.catalog.existingSecret }}
      key: {{ .Values.catalog.secretKey }}
- name: DOSSIER_LLM__BASE_URL
  value: {{ include "dossier.llmBaseUrl" . | quote }}
- name: DOSSIER_LLM__MODEL
  value: {{ .Values.vllm.servedModelName | quote }}
- name: DOSSIER_LLM__TOOL_CALLING
  value: {{ .Values.config.toolCalling | quote }}
- name: HF_HUB_OFFLINE
  value: "1"
- name: TRANSFORMERS_OFFLINE
  value: "1"
- name: DO_NOT_TRACK
  value: "1"
{{- range $k, $v := .Values.config.extraEnv }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "dossier.dataClaim" -}}
{{- if .Values.data.existingClaim -}}{{ .Values.data.existingClaim }}{{- else -}}{{ include "dossier.fullname" . }}-data{{- end -}}
{{- end -}}
