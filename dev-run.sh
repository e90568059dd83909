#!/usr/bin/env bash
# The dev run: the dev-stack (embedded PostgreSQL, Vault and Kubernetes API stand-ins), the
# target database db1 and Vault's database engine set up by the broker's own setup command, and
# the broker, all on 127.0.0.1 with the fixed dev ports. Stays up until Ctrl-C, then stops all.
#
#   ./dev-run.sh                builds, then starts everything
#   SKIP_BUILD=1 ./dev-run.sh   reuses the jars of a previous build
#   ./dev-run.sh replica N      starts broker replica N (2..100: gRPC 9090+N-1, admin API 8443+N-1,
#                               management 8080+N-1) next to a running dev run, until Ctrl-C
#
# The broker serves TLS on its gRPC API and its admin API with a certificate the dev-stack signs
# with its CA, .dev-stack/ca.crt (dev-stack.json: broker.caCert); health and metrics are plain HTTP
# on the management port.
#
# The broker logs in to Vault as the Helm chart makes it do in a cluster: Kubernetes auth, Vault
# role credential-broker, with a token of service account credbroker/credential-broker read from a
# file. The root token is only for operators and the setup command. Needs bash, curl and a JDK 17.
set -euo pipefail
cd "$(dirname "$0")"

work=.dev-stack
info=$work/dev-stack.json
pid_file=$work/dev-run.pid
# The broker's service-account token; spring.cloud.vault.kubernetes.service-account-token-file in
# broker-service/src/main/resources/application-dev.yaml names the same file.
token_file=$work/credential-broker.token
# The same token in a kubeconfig, for the broker's calls to the Kubernetes API (TokenReview, the
# pod watch, the signing keys, the admin API's access reviews): credbroker.kubernetes.kubeconfig in
# application-dev.yaml. In a cluster the broker reads the projected token itself; here it calls the
# API server as its own service account, with the RBAC the chart grants, never as the dev-stack's
# admin. The Kubernetes client reads the file again at least every minute and after a 401.
broker_kubeconfig=$work/credential-broker.kubeconfig
broker_jar=broker-service/target/credential-broker.jar
stack_jar=dev-stack/target/dev-stack.jar
max_replica=100

# Lifetimes that turn over while someone watches: the broker's Vault token lives 1 minute and is
# renewed up to 3 minutes, then the broker must log in again; a credential lives 2 minutes per
# renewal, 10 minutes at most, so renewals and rotations show within minutes.
broker_token_ttl=1m
broker_token_max_ttl=3m
credential_ttl=2m
credential_max_ttl=10m
# Credentials are created with orphan issuing tokens of this fixed lifetime (docs/token-lifetimes.md);
# a new one every half lifetime, and credentials rotate before theirs dies: short, to watch it happen.
issuing_token_ttl=8m

# The service-account token is refreshed the way the kubelet refreshes a pod's projected token:
# minted by TokenRequest with a bounded lifetime and rewritten (atomically, so the broker never
# reads half a file) long before it expires; the broker reads the file again at each Vault login.
# 10 minutes is the shortest lifetime the API server grants; rewriting it every 4 minutes leaves
# 6 minutes for retries (every 30 s) if the Kubernetes stand-in does not answer. A token that never
# expired would hide exactly the kind of defect this dev run is there to show.
sa_token_seconds=600
sa_token_refresh_seconds=240
sa_token_retry_seconds=30

say() { printf '%s\n' "$*"; }
die() { printf 'dev-run: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A string field of the (pretty-printed) info file; secrets read this way stay out of argv.
info_field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$info" | head -1; }

# True when the file $1 names a process of this script that is still running (not a stale file
# whose process id has since gone to another program).
script_running() {
  local pid
  [ -s "$1" ] && pid=$(cat "$1") && ps -p "$pid" -o args= 2>/dev/null | grep -q 'dev-run\.sh'
}

# True while a dev run is up: its script runs and Vault answers.
dev_run_up() { script_running "$pid_file" && port_open 8200; }

# Ends process $1 ($2 names it in messages) with SIGTERM, so a broker shuts down gracefully, and
# waits for it; SIGKILL after 60 s. Reaps it when it is a child of this shell.
stop_process() {
  local pid=$1 what=$2
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$what did not stop within 60 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# The ports of replica $1: gRPC (TLS), admin API (TLS), management (plain HTTP).
grpc_port_of() { echo $((9090 + $1 - 1)); }
admin_port_of() { echo $((8443 + $1 - 1)); }
management_port_of() { echo $((8080 + $1 - 1)); }

# Starts broker replica $1 in the background (its three ports, log $2) and waits until all of them
# answer. Sets broker_pid.
start_broker() {
  local log=$2 grpc_port admin_port management_port
  grpc_port=$(grpc_port_of "$1")
  admin_port=$(admin_port_of "$1")
  management_port=$(management_port_of "$1")
  CREDBROKER_DEV_POSTGRES_PASSWORD=$(info_field adminPassword) \
    java -jar "$broker_jar" --spring.profiles.active=dev \
    --credbroker.grpc.port="$grpc_port" --server.port="$admin_port" \
    --management.server.port="$management_port" >"$log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 120); do
    if port_open "$grpc_port" && port_open "$admin_port" && port_open "$management_port"; then
      return 0
    fi
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      tail -50 "$log"
      die "the broker exited during startup; see $log"
    fi
    sleep 1
  done
  die "the broker did not open ports $grpc_port, $admin_port and $management_port within 120 s; see $log"
}

# Mints a token of service account credbroker/credential-broker with TokenRequest, as the admin
# user of the dev-stack's kubeconfig, and replaces $token_file and $broker_kubeconfig with it
# atomically (owner-only files: the token is a secret). No audience is asked for, so the token
# carries the API server's own, like the token the chart's pods get mounted. The admin token goes
# to curl on stdin, never on the command line.
mint_broker_token() {
  local server url answer token tmp
  server=$(info_field url)
  url="$server/api/v1/namespaces/credbroker/serviceaccounts/credential-broker/token"
  if ! answer=$(printf 'header = "Authorization: Bearer %s"\n' "$(info_field adminToken)" |
      curl -sS --fail --max-time 10 --config - --cacert "$work/ca.crt" \
        -H 'Content-Type: application/json' \
        -d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":$sa_token_seconds}}" \
        "$url" 2>&1); then
    say "dev-run: cannot mint the broker's service-account token: $answer" >&2
    return 1
  fi
  token=$(printf '%s' "$answer" | tr -d '\n' | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
  case "$token" in
    *.*.*) ;;
    *) say "dev-run: the TokenRequest answer holds no token" >&2; return 1 ;;
  esac
  tmp=$(umask 077 && mktemp "$work/.credential-broker.token.XXXXXX")
  printf '%s' "$token" >"$tmp"
  mv -f "$tmp" "$token_file"
  tmp=$(umask 077 && mktemp "$work/.credential-broker.kubeconfig.XXXXXX")
  cat >"$tmp" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: dev-stack
  cluster:
    server: $server
    certificate-authority: $(cd "$work" && pwd)/ca.crt
users:
- name: credential-broker
  user:
    token: $token
contexts:
- name: credential-broker
  context:
    cluster: dev-stack
    user: credential-broker
    namespace: credbroker
current-context: credential-broker
EOK
  mv -f "$tmp" "$broker_kubeconfig"
}

# Runs in the background for the whole dev run: keeps $token_file and $broker_kubeconfig fresh. Ctrl-C does not end it
# (a subshell would otherwise die of it and leave its sleep behind); the dev run's cleanup does.
refresh_broker_token() {
  local delay=$sa_token_refresh_seconds sleeper=
  trap '' INT
  trap 'if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi; exit 0' TERM
  while :; do
    sleep "$delay" &
    sleeper=$!
    wait "$sleeper" || true
    sleeper=
    if mint_broker_token; then
      delay=$sa_token_refresh_seconds
    else
      say "dev-run: retrying in $sa_token_retry_seconds s; the broker's current token file stays until then" >&2
      delay=$sa_token_retry_seconds
    fi
  done
}

# The EXIT trap of ./dev-run.sh replica N: stops its broker gracefully.
stop_replica() {
  trap '' INT TERM
  if [ -n "$broker_pid" ]; then
    say "Stopping replica $replica ..."
    stop_process "$broker_pid" "replica $replica"
  fi
  rm -f "$work/replica-$replica.pid"
}

# ./dev-run.sh replica N
run_replica() {
  local n=${1:-} port what log
  case "$n" in
    '' | *[!0-9]*) die "usage: ./dev-run.sh replica N   (N from 2 to $max_replica; the dev run itself is replica 1)" ;;
  esac
  n=$((10#$n))
  if [ "$n" -lt 2 ] || [ "$n" -gt "$max_replica" ]; then
    die "replica $n: N must be from 2 to $max_replica (the dev run itself is replica 1 on ports 9090, 8443 and 8080)"
  fi
  log=$work/broker-$n.log
  dev_run_up || die "no dev run is up: start ./dev-run.sh in another terminal first, then the replica"
  [ -s "$token_file" ] || die "the dev run has not written the broker's token file $token_file yet"
  [ -s "$broker_kubeconfig" ] || die "the dev run has not written the broker's kubeconfig $broker_kubeconfig yet"
  [ -f "$broker_jar" ] || die "$broker_jar is missing; the dev run builds it"
  if script_running "$work/replica-$n.pid"; then
    die "replica $n is already running (pid $(cat "$work/replica-$n.pid"))"
  fi
  for what in grpc admin management; do
    port=$("${what}_port_of" "$n")
    if port_open "$port"; then die "port $port ($what of replica $n) is taken"; fi
  done

  broker_pid=
  replica=$n
  echo $$ >"$work/replica-$n.pid"
  trap stop_replica EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  say "Starting broker replica $n (log: $log) ..."
  start_broker "$n" "$log"
  say "replica $n is running: gRPC (TLS) 127.0.0.1:$(grpc_port_of "$n"), admin API https://127.0.0.1:$(admin_port_of "$n"),"
  say "management http://127.0.0.1:$(management_port_of "$n"); same state database, Vault login and certificate as"
  say "the dev run (Ctrl-C or SIGTERM to pid $$ stops it gracefully; start it again the same way)."
  wait "$broker_pid" || true
  broker_pid=
  say "replica $n exited; see $log"
}

case "${1:-}" in
  replica) run_replica "${2:-}"; exit ;;
  '') ;;
  *) die "unknown argument '$1'; usage: ./dev-run.sh | ./dev-run.sh replica N" ;;
esac

if dev_run_up; then
  die "a dev run is already up (pid $(cat "$pid_file")); stop it first, or add a replica with ./dev-run.sh replica 2"
fi

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$broker_jar" ] || [ ! -f "$stack_jar" ]; then
  # package, not install: the dev run needs only the jars in target/, and nothing is copied into
  # the local Maven repository that other checkouts of the project share.
  echo "Building (./mvnw package -DskipTests) ..."
  ./mvnw -B -q -ntp package -DskipTests
fi

mkdir -p "$work"
rm -f "$info" "$token_file" "$broker_kubeconfig"
stack_pid=
broker_pid=
refresher_pid=
cleanup() {
  local f pid n
  trap '' INT TERM
  # Replicas first (they are not children of this shell), then the broker, then what they need.
  for f in "$work"/replica-*.pid; do
    if script_running "$f"; then
      pid=$(cat "$f")
      n=${f#"$work"/replica-}
      n=${n%.pid}
      say "Stopping replica $n ..."
      stop_process "$pid" "replica $n"
    fi
  done
  if [ -n "$broker_pid" ]; then
    say "Stopping the broker, then the dev-stack ..."
    stop_process "$broker_pid" "the broker"
  fi
  if [ -n "$refresher_pid" ]; then stop_process "$refresher_pid" "the token refresher"; fi
  if [ -n "$stack_pid" ]; then stop_process "$stack_pid" "the dev-stack"; fi
  rm -f "$pid_file"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo $$ >"$pid_file"

echo "Starting the dev-stack (log: $work/dev-stack.log) ..."
java -jar "$stack_jar" --work-dir "$work" --info-file "$info" --create-database credbroker \
  >"$work/dev-stack.log" 2>&1 &
stack_pid=$!
for _ in $(seq 1 180); do
  [ -s "$info" ] && break
  if ! kill -0 "$stack_pid" 2>/dev/null; then cat "$work/dev-stack.log"; exit 1; fi
  sleep 1
done
[ -s "$info" ] || { echo "dev-stack did not start within 180 s; see $work/dev-stack.log"; exit 1; }

echo "Setting up database db1 and Vault (idempotent; log: $work/setup.log) ..."
# The setup command, and only it, gets the PostgreSQL superuser password and Vault's root token,
# through the environment (never argv). It reaches Vault over TLS, as the chart's setup Job does.
PGPASSWORD=$(info_field adminPassword) VAULT_TOKEN=root java -jar "$broker_jar" setup >"$work/setup.log" \
  --postgres-url jdbc:postgresql://127.0.0.1:15432/postgres \
  --database db1 \
  --default-ttl "$credential_ttl" --max-ttl "$credential_max_ttl" \
  --vault-address https://127.0.0.1:8243 --vault-ca-cert "$work/ca.crt" \
  --vault-postgres-parameters sslmode=disable \
  --kubernetes-host https://127.0.0.1:6443 --kubernetes-ca-file "$work/ca.crt" \
  --broker-namespace credbroker --broker-service-account credential-broker \
  --broker-token-ttl "$broker_token_ttl" --broker-token-max-ttl "$broker_token_max_ttl" \
  --issuing-token-ttl "$issuing_token_ttl" \
  || { cat "$work/setup.log"; exit 1; }
tail -1 "$work/setup.log"

echo "Minting the broker's service-account token ($token_file and $broker_kubeconfig, renewed every $((sa_token_refresh_seconds / 60)) min) ..."
mint_broker_token || exit 1
refresh_broker_token &
refresher_pid=$!

echo "Starting the broker (log: $work/broker.log) ..."
start_broker 1 "$work/broker.log"

kubeconfig=$(cd "$work" && pwd)/kubeconfig
ca=$(cd "$work" && pwd)/ca.crt
cat <<EOT

credential-broker is running (Ctrl-C stops everything):
  gRPC API    127.0.0.1:9090          TLS
  admin API   https://127.0.0.1:8443  TLS (/admin/v1, /v3/api-docs)
  management  http://127.0.0.1:8080   plain HTTP (/actuator/health, /actuator/prometheus)
Its certificate is signed by the dev-stack's CA $ca (dev-stack.json: broker.caCert);
pass it to grpcurl (-cacert) and curl (--cacert).
It logs in to Vault by Kubernetes auth (role credential-broker) as service account
credbroker/credential-broker, token file $token_file; its Vault token lives $broker_token_ttl, at most
$broker_token_max_ttl, then it logs in again. It calls the Kubernetes API as the same service account
(kubeconfig $broker_kubeconfig, rewritten with each new token). Credentials: TTL $credential_ttl,
max TTL $credential_max_ttl.
$(sed -n '/dev-stack is running/,/^$/p' "$work/dev-stack.log")

Get a credential as pod app-1 of service account public/application:
  kubectl --kubeconfig $kubeconfig -n public run app-1 --image=busybox --overrides='{"spec":{"serviceAccountName":"application"}}'
  TOKEN=\$(kubectl --kubeconfig $kubeconfig create token application -n public --audience credbroker --bound-object-kind Pod --bound-object-name app-1)
  grpcurl -cacert $ca -H "authorization: Bearer \$TOKEN" -d '{"database_role":"db1"}' 127.0.0.1:9090 credbroker.v1.CredentialBroker/WatchCredential
  (grpcurl finds the API through server reflection; the contract is api-proto/src/main/proto/credbroker/v1/)
  (the stream ends with UNAUTHENTICATED TOKEN_EXPIRED in the last 15 % of \$TOKEN's life, kubectl's default hour: take a new token and resume with "resume_credential_id")

List credentials as an SRE (service account ops/sre may revoke):
  SRE=\$(kubectl --kubeconfig $kubeconfig -n ops create token sre)
  curl -s --cacert $ca -H "Authorization: Bearer \$SRE" 'https://127.0.0.1:8443/admin/v1/credentials?namespace=public'
Or with the SREs' command line, as the person jane@example.com (kubeconfig context credbroker-dev-sre):
  java -jar broker-service/target/credential-broker-cli.jar --kubeconfig $kubeconfig --context credbroker-dev-sre --ca-file $ca --server https://127.0.0.1:8443 credentials -n public
  (who <pg-user>, revoke pod <ns>/<pod>, audit, queue, unblock: see the README; the runbook is docs/runbook.md)

Another replica (same state database and Vault login; gRPC 9091, admin 8444, management 8081): ./dev-run.sh replica 2

Health and metrics: curl -s http://127.0.0.1:8080/actuator/health/readiness; curl -s http://127.0.0.1:8080/actuator/prometheus | grep credbroker_
EOT
wait "$broker_pid" || true
broker_pid=
echo "The broker exited; see $work/broker.log"
