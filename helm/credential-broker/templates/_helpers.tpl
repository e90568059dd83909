{{/*
Chart name, shortened to fit a DNS label.
*/}}
{{- define "credential-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources: the release name alone when it already contains the chart name.
*/}}
{{- define "credential-broker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "credential-broker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource.
*/}}
{{- define "credential-broker.labels" -}}
helm.sh/chart: {{ include "credential-broker.chart" . }}
{{ include "credential-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: credential-broker
{{- end }}

{{/*
Labels that select the broker's pods; never change them in an upgrade (Deployment selectors are immutable).
*/}}
{{- define "credential-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "credential-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "credential-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "credential-broker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding the state database's JDBC URL, user and password.
*/}}
{{- define "credential-broker.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "credential-broker.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Names of the ClusterRoles the REST admin API's SubjectAccessReviews are answered by: <release>-viewer and
<release>-revoker. They are cluster-scoped, so they carry the release name that operators bind to.
*/}}
{{- define "credential-broker.viewerRoleName" -}}
{{- printf "%s-viewer" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "credential-broker.revokerRoleName" -}}
{{- printf "%s-revoker" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The headless Service, for gRPC clients that balance their streams themselves.
*/}}
{{- define "credential-broker.headlessServiceName" -}}
{{- printf "%s-headless" (include "credential-broker.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The Secret with the broker's TLS certificate (tls.crt, tls.key, ca.crt), and where it is mounted: the directory of
the broker's default credbroker.tls.certificate-file and private-key-file.
*/}}
{{- define "credential-broker.tlsSecretName" -}}
{{- .Values.tls.secretName | default (printf "%s-tls" (include "credential-broker.fullname" .) | trunc 63 | trimSuffix "-") }}
{{- end }}

{{- define "credential-broker.tlsDir" -}}
/etc/credbroker/tls
{{- end }}

{{/*
Mount point of the Vault CA bundle.
*/}}
{{- define "credential-broker.vaultCaDir" -}}
/etc/credential-broker-vault-ca
{{- end }}

{{/*
The broker's application.yaml: Spring Boot reads it from /etc/credential-broker/ next to the one in its jar,
so only what an operator sets is here. Built as a dictionary and rendered with toYaml, so values can never
break the YAML; extraConfig is merged over it last.
*/}}
{{- define "credential-broker.applicationConfig" -}}
{{- $bindings := list }}
{{- /* A pod checks the database's certificate and name unless its binding says otherwise. */}}
{{- range $i, $b := .Values.bindings }}
{{- $conn := $b.connection }}
{{- $connection := dict "host" $conn.host "database" $conn.database "port" ($conn.port | default 5432) "sslmode" ($conn.sslmode | default "verify-full") }}
{{- $binding := dict "database-role" $b.databaseRole "vault-mount" ($b.vaultMount | default "database") "vault-role" $b.vaultRole "namespaces" $b.namespaces "service-accounts" $b.serviceAccounts "connection" $connection }}
{{- $bindings = append $bindings $binding }}
{{- end }}
{{- include "credential-broker.checkClusterTimings" . }}
{{- include "credential-broker.checkPorts" . }}
{{- include "credential-broker.checkMinimumDurations" . }}
{{- $k8s := .Values.kubernetes }}
{{- $lease := .Values.lease }}
{{- $limits := .Values.limits }}
{{- $retention := .Values.retention }}
{{- $credbroker := dict
  "grpc" (dict "port" .Values.ports.grpc "heartbeat-interval" .Values.grpc.heartbeatInterval "call-threads" .Values.grpc.callThreads "max-pending-calls" .Values.grpc.maxPendingCalls "max-stream-authorisation" .Values.grpc.maxStreamAuthorisation)
  "kubernetes" (dict
    "audience" $k8s.audience
    "allow-unbound-tokens" $k8s.allowUnboundTokens
    "cache-max-ttl" $k8s.cacheMaxTtl
    "failure-cache-ttl" $k8s.failureCacheTtl
    "max-concurrent-requests" $k8s.maxConcurrentRequests
    "connect-timeout" $k8s.connectTimeout
    "request-timeout" $k8s.requestTimeout
    "pod-watch" (dict "enabled" $k8s.podWatch.enabled "check-interval" $k8s.podWatch.checkInterval))
  "bindings" $bindings
  "lease" (dict
    "renewal-fraction" $lease.renewalFraction
    "renewal-jitter" $lease.renewalJitter
    "rotation-margin" $lease.rotationMargin
    "reconnect-grace" $lease.reconnectGrace
    "reconnect-grace-limit" $lease.reconnectGraceLimit
    "drain-grace" $lease.drainGrace
    "workers" $lease.workers
    "max-concurrent-release-revocations" $lease.maxConcurrentReleaseRevocations
    "expiring-warning" $lease.expiringWarning
    "renewal-retry-max" $lease.renewalRetryMax
    "revocation-retry-initial" $lease.revocationRetryInitial
    "revocation-retry-max" $lease.revocationRetryMax
    "token-expiry-margin" $lease.tokenExpiryMargin
    "reconcile" (dict "interval" $lease.reconcile.interval "grace" $lease.reconcile.grace))
  "cluster" (dict
    "heartbeat-interval" .Values.cluster.heartbeatInterval
    "stale-after" .Values.cluster.staleAfter)
  "admin" (dict
    "audiences" .Values.admin.audiences
    "authentication-cache-ttl" .Values.admin.authenticationCacheTtl
    "authorization-cache-ttl" .Values.admin.authorizationCacheTtl)
  "revocation" (dict
    "block-cache-ttl" .Values.revocation.blockCacheTtl
    "undropped-check-interval" .Values.revocation.undroppedCheckInterval)
  "limits" (dict
    "streams-per-pod-role" $limits.streamsPerPodRole
    "min-requested-ttl" $limits.minRequestedTtl
    "issuance-burst" $limits.issuanceBurst
    "issuances-per-minute" $limits.issuancesPerMinute
    "tracked-pods" $limits.trackedPods
    "token-reviews-per-second" $limits.tokenReviewsPerSecond
    "concurrent-token-reviews" $limits.concurrentTokenReviews)
  "retention" (dict
    "ended-credentials" $retention.endedCredentials
    "audit-events" $retention.auditEvents
    "interval" $retention.interval
    "batch-size" $retention.batchSize
    "dead-replicas" $retention.deadReplicas)
  "vault" (dict
    "issuing-token-role" .Values.vault.issuingTokenRole
    "max-concurrent-creations" .Values.vault.maxConcurrentCreations)
  "tls" (include "credential-broker.tlsConfig" . | fromYaml) }}
{{- $vaultK8s := dict
  "role" .Values.vault.kubernetes.role
  "kubernetes-path" .Values.vault.kubernetes.path
  "service-account-token-file" "/var/run/secrets/kubernetes.io/serviceaccount/token" }}
{{- $vault := dict
  "uri" (required "vault.address is required (e.g. https://vault.vault.svc:8200)" .Values.vault.address)
  "authentication" "KUBERNETES"
  "kubernetes" $vaultK8s
  "connection-timeout" (include "credential-broker.millis" .Values.vault.connectionTimeout | int)
  "read-timeout" (include "credential-broker.millis" .Values.vault.readTimeout | int) }}
{{- with .Values.vault.namespace }}
{{- $_ := set $vault "namespace" . }}
{{- end }}
{{- with .Values.vault.tls.caSecretName }}
{{- $_ := set $vault "ssl" (dict "trust-store" (printf "file:%s/%s" (include "credential-broker.vaultCaDir" $) $.Values.vault.tls.caSecretKey) "trust-store-type" "PEM") }}
{{- end }}
{{- $spring := dict
  "cloud" (dict "vault" $vault)
  "datasource" (dict "hikari" (dict "maximum-pool-size" .Values.database.maximumPoolSize))
  "grpc" (dict "server" (dict "shutdown-grace-period" .Values.shutdown.grpcGracePeriod))
  "lifecycle" (dict "timeout-per-shutdown-phase" .Values.shutdown.phaseTimeout) }}
{{- /* What readiness waits for; values.yaml says why Vault is not in it. */}}
{{- $readiness := dict "include" (join ", " .Values.probes.readiness.include) }}
{{- /* The actuator on a port of its own, plain HTTP: the admin API's port serves TLS. */}}
{{- $management := dict
  "server" (dict "port" .Values.ports.management)
  "endpoint" (dict "health" (dict "group" (dict "readiness" $readiness))) }}
{{- $config := dict
  "credbroker" $credbroker
  "spring" $spring
  "server" (dict "port" .Values.ports.admin)
  "management" $management }}
{{- $config = mustMergeOverwrite $config (deepCopy .Values.extraConfig) }}
{{- toYaml $config }}
{{- end }}

{{/*
credbroker.tls: where the mounted Secret's certificate and key are. There is no switch: the broker always serves TLS.
*/}}
{{- define "credential-broker.tlsConfig" -}}
{{- $dir := include "credential-broker.tlsDir" . }}
{{- toYaml (dict
  "certificate-file" (printf "%s/tls.crt" $dir)
  "private-key-file" (printf "%s/tls.key" $dir)) }}
{{- end }}

{{/*
Fails when cluster.staleAfter is under two heartbeats: a live replica would be presumed dead between two of its
heartbeats. The broker refuses to start then; the chart says so at install time instead, for the durations it can
compare (a whole number with ms, s, m, h or d).
*/}}
{{- define "credential-broker.checkClusterTimings" -}}
{{- $cluster := .Values.cluster }}
{{- $heartbeat := include "credential-broker.comparableMillis" $cluster.heartbeatInterval }}
{{- $stale := include "credential-broker.comparableMillis" $cluster.staleAfter }}
{{- if and $heartbeat $stale }}
{{- if lt ($stale | int64) (mul ($heartbeat | int64) 2) }}
{{- fail (printf "cluster.staleAfter (%s) must be at least twice cluster.heartbeatInterval (%s), or live replicas would be presumed dead" $cluster.staleAfter $cluster.heartbeatInterval) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Fails on durations the broker refuses to start with and the schema cannot compare: retention.endedCredentials under
1h (a pod's ended credentials are what the admin API and the audit trail point to), retention.deadReplicas under 1h
(a dead replica's row is what the others take its credentials over through) and lease.reconcile.grace under
1s (a credential being issued has a Vault lease before it has a record). Only the forms comparableMillis reads are
checked.
*/}}
{{- define "credential-broker.checkMinimumDurations" -}}
{{- $ended := include "credential-broker.comparableMillis" .Values.retention.endedCredentials }}
{{- if and $ended (lt ($ended | int64) 3600000) }}
{{- fail (printf "retention.endedCredentials (%s) must be at least 1h" .Values.retention.endedCredentials) }}
{{- end }}
{{- $deadReplicas := include "credential-broker.comparableMillis" .Values.retention.deadReplicas }}
{{- if and $deadReplicas (lt ($deadReplicas | int64) 3600000) }}
{{- fail (printf "retention.deadReplicas (%s) must be at least 1h" .Values.retention.deadReplicas) }}
{{- end }}
{{- $grace := include "credential-broker.comparableMillis" .Values.lease.reconcile.grace }}
{{- if and $grace (lt ($grace | int64) 1000) }}
{{- fail (printf "lease.reconcile.grace (%s) must be at least 1s" .Values.lease.reconcile.grace) }}
{{- end }}
{{- end }}

{{/*
Fails when two of the broker's ports are the same: it could not start (three servers on one port), and the
Service's and NetworkPolicy's port names would not tell the APIs apart.
*/}}
{{- define "credential-broker.checkPorts" -}}
{{- $ports := .Values.ports }}
{{- if or (eq (int $ports.grpc) (int $ports.admin)) (eq (int $ports.grpc) (int $ports.management)) (eq (int $ports.admin) (int $ports.management)) }}
{{- fail (printf "ports.grpc (%v), ports.admin (%v) and ports.management (%v) must be three different ports" $ports.grpc $ports.admin $ports.management) }}
{{- end }}
{{- end }}

{{/*
A duration written as a whole number with ms, s, m, h or d, as milliseconds; empty for any other form (ISO-8601,
ns, us), which the broker still reads.
*/}}
{{- define "credential-broker.comparableMillis" -}}
{{- $d := toString . }}
{{- if regexMatch "^[0-9]+(ms|s|m|h|d)$" $d }}
{{- $number := regexFind "^[0-9]+" $d }}
{{- $unit := trimPrefix $number $d }}
{{- mul ($number | int64) (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000) $unit) }}
{{- end }}
{{- end }}

{{/*
A Go-style duration with one unit (ms, s, m) as milliseconds: Spring Cloud Vault's timeouts are plain integers.
*/}}
{{- define "credential-broker.millis" -}}
{{- $d := toString . }}
{{- if hasSuffix "ms" $d }}
{{- trimSuffix "ms" $d | int }}
{{- else if hasSuffix "s" $d }}
{{- mul (trimSuffix "s" $d | int) 1000 }}
{{- else if hasSuffix "m" $d }}
{{- mul (trimSuffix "m" $d | int) 60000 }}
{{- else }}
{{- fail (printf "cannot read %q as a duration: use a number followed by ms, s or m" $d) }}
{{- end }}
{{- end }}

{{/*
The broker's image, which also runs the setup command: global.imageRegistry (a parent chart's mirror) over
image.registry, then the repository, then the digest when one pins the image, else the tag.
*/}}
{{- define "credential-broker.image" -}}
{{- $global := .Values.global | default dict }}
{{- $registry := $global.imageRegistry | default .Values.image.registry }}
{{- $image := .Values.image.repository }}
{{- if $registry }}
{{- $image = printf "%s/%s" (trimSuffix "/" $registry) $image }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $image .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $image (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The pod's imagePullSecrets: global.imagePullSecrets (names or {name: ...}) first, then imagePullSecrets, each name
once; empty when there are none.
*/}}
{{- define "credential-broker.imagePullSecrets" -}}
{{- $global := .Values.global | default dict }}
{{- $names := list }}
{{- range concat ($global.imagePullSecrets | default list) (.Values.imagePullSecrets | default list) }}
{{- $name := . }}
{{- if kindIs "map" . }}
{{- $name = .name }}
{{- end }}
{{- if and $name (not (has $name $names)) }}
{{- $names = append $names $name }}
{{- end }}
{{- end }}
{{- if $names }}
imagePullSecrets:
{{- range $names }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The setup Job and its ServiceAccount: "<fullname>-setup".
*/}}
{{- define "credential-broker.setupName" -}}
{{- printf "%s-setup" (include "credential-broker.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "credential-broker.setupServiceAccountName" -}}
{{- if .Values.setup.serviceAccount.create }}
{{- default (include "credential-broker.setupName" .) .Values.setup.serviceAccount.name }}
{{- else }}
{{- required "setup.serviceAccount.name is required when setup.serviceAccount.create is false" .Values.setup.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Labels of the setup Job, its pod and its ServiceAccount. The name differs from the broker's so that no selector of
the broker's (Service, PodDisruptionBudget, NetworkPolicy, ServiceMonitor) ever picks up the setup pod.
*/}}
{{- define "credential-broker.setupLabels" -}}
{{- include "credential-broker.componentLabels" (dict "root" . "component" "setup") }}
{{- end }}

{{/*
Labels of a pod that runs the broker's image for a task (setup, test), not as a broker: "<name>-<component>" instead of
the broker's name. Called with a dict: root (the chart's context) and component.
*/}}
{{- define "credential-broker.componentLabels" -}}
helm.sh/chart: {{ include "credential-broker.chart" .root }}
{{ include "credential-broker.componentSelectorLabels" . }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: credential-broker
{{- end }}

{{- define "credential-broker.componentSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-%s" (include "credential-broker.name" .root) .component | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/*
The `helm test` Pod: "<fullname>-test".
*/}}
{{- define "credential-broker.testName" -}}
{{- printf "%s-test" (include "credential-broker.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The health-check command's arguments, as a YAML list: the Service's gRPC port by its cluster DNS name, over TLS
verified with the Secret's ca.crt for that name (a name the chart's Certificate carries).
*/}}
{{- define "credential-broker.testArgs" -}}
{{- $host := printf "%s.%s.svc" (include "credential-broker.fullname" .) .Release.Namespace }}
{{- toYaml (list
  "health-check"
  "--target" (printf "%s:%d" $host (int .Values.ports.grpc))
  "--ca-file" (printf "%s/ca.crt" (include "credential-broker.tlsDir" .))
  "--authority" $host) }}
{{- end }}

{{/*
Where the setup container finds the Vault token (a Secret volume) and the Kubernetes API's CA (a ConfigMap volume).
Vault's CA bundle, when vault.tls.caSecretName is set, is at the broker's own path (credential-broker.vaultCaDir).
*/}}
{{- define "credential-broker.setupVaultTokenDir" -}}
/etc/credential-broker-setup/vault
{{- end }}

{{- define "credential-broker.setupKubernetesCaDir" -}}
/etc/credential-broker-setup/kubernetes
{{- end }}

{{/*
The setup command's arguments, as a YAML list. Only names, addresses and durations: the PostgreSQL password comes
from the environment (PGPASSWORD) and the Vault token from a file. What the broker itself uses (Vault's address, the
Kubernetes auth path and role, the issuing token role, its service account and namespace) comes from the broker's
values, so that the two cannot disagree.
*/}}
{{- define "credential-broker.setupArgs" -}}
{{- $setup := .Values.setup }}
{{- $url := required "setup.postgres.url is required when setup.enabled is true" $setup.postgres.url }}
{{- if regexMatch "(?i)password=" $url }}
{{- fail "setup.postgres.url must not hold a password: it would be visible in the Job's arguments; put it in the Secret setup.postgres.passwordSecret names" }}
{{- end }}
{{- if .Values.vault.namespace }}
{{- fail "setup cannot work in a Vault namespace (vault.namespace is set): run the setup command against that namespace yourself and leave setup.enabled false" }}
{{- end }}
{{- $args := list "setup"
  "--postgres-url" $url
  "--postgres-user" $setup.postgres.user
  "--database" (required "setup.database is required when setup.enabled is true" $setup.database) }}
{{- with $setup.groupRole }}{{ $args = concat $args (list "--group-role" .) }}{{ end }}
{{- with $setup.vaultAdminRole }}{{ $args = concat $args (list "--vault-admin-role" .) }}{{ end }}
{{- with $setup.templateDatabase }}{{ $args = concat $args (list "--template-database" .) }}{{ end }}
{{- $vault := $setup.vault }}
{{- $args = concat $args (list
  "--vault-address" (required "vault.address is required (e.g. https://vault.vault.svc:8200)" .Values.vault.address)
  "--vault-token-file" (printf "%s/token" (include "credential-broker.setupVaultTokenDir" .))
  "--mount" $vault.mount) }}
{{- with .Values.vault.tls.caSecretName }}
{{- $args = concat $args (list "--vault-ca-cert" (printf "%s/%s" (include "credential-broker.vaultCaDir" $) $.Values.vault.tls.caSecretKey)) }}
{{- end }}
{{- with $vault.connection }}{{ $args = concat $args (list "--connection" .) }}{{ end }}
{{- with $vault.role }}{{ $args = concat $args (list "--vault-role" .) }}{{ end }}
{{- $args = concat $args (list "--default-ttl" $vault.defaultTtl "--max-ttl" $vault.maxTtl) }}
{{- with $vault.postgresHost }}{{ $args = concat $args (list "--vault-postgres-host" .) }}{{ end }}
{{- if gt (int $vault.postgresPort) 0 }}{{ $args = concat $args (list "--vault-postgres-port" (toString $vault.postgresPort)) }}{{ end }}
{{- $args = concat $args (list
  "--vault-postgres-parameters" $vault.postgresParameters
  "--password-authentication" $vault.passwordAuthentication
  "--broker-policy" $vault.brokerPolicy
  "--issuing-token-role" .Values.vault.issuingTokenRole
  "--issuing-token-ttl" $vault.issuingTokenTtl) }}
{{- with $setup.kubernetes.host }}
{{- $args = concat $args (list
  "--kubernetes-host" .
  "--kubernetes-auth-path" $.Values.vault.kubernetes.path
  "--broker-vault-role" $.Values.vault.kubernetes.role
  "--broker-service-account" (include "credential-broker.serviceAccountName" $)
  "--broker-namespace" $.Release.Namespace
  "--broker-token-ttl" $vault.brokerTokenTtl
  "--broker-token-max-ttl" $vault.brokerTokenMaxTtl) }}
{{- if $setup.kubernetes.caConfigMap }}
{{- $args = concat $args (list "--kubernetes-ca-file" (printf "%s/%s" (include "credential-broker.setupKubernetesCaDir" $) $setup.kubernetes.caKey)) }}
{{- end }}
{{- end }}
{{- if $setup.dryRun }}
{{- $args = append $args "--dry-run" }}
{{- end }}
{{- toYaml $args }}
{{- end }}
