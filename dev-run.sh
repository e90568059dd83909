#!/usr/bin/env bash
# The dev run: the dev-stack (embedded PostgreSQL, Vault and Kubernetes API stand-ins), the
# target database db1 and Vault's database engine set up by the broker's own setup command, and
# the broker, all on 127.0.0.1 with the fixed dev ports. Stays up until Ctrl-C, then stops all.
#
#   SKIP_BUILD=1 ./dev-run.sh   reuses the jars of a previous build
set -euo pipefail
cd "$(dirname "$0")"

work=.dev-stack
info=$work/dev-stack.json
broker_jar=broker-service/target/credential-broker.jar
stack_jar=dev-stack/target/dev-stack.jar

if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -f "$broker_jar" ] || [ ! -f "$stack_jar" ]; then
  echo "Building (./mvnw install -DskipTests) ..."
  ./mvnw -B -q -ntp install -DskipTests
fi

mkdir -p "$work"
rm -f "$info"
stack_pid=
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
  [ -n "$stack_pid" ] && kill "$stack_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# The superuser password of the embedded PostgreSQL; passed through the environment, never argv.
pg_password=$(sed -n 's/.*"adminPassword" *: *"\([^"]*\)".*/\1/p' "$info")
export PGPASSWORD="$pg_password" VAULT_TOKEN=root CREDBROKER_DEV_POSTGRES_PASSWORD="$pg_password"

echo "Setting up database db1 and Vault (idempotent; log: $work/setup.log) ..."
java -jar "$broker_jar" setup >"$work/setup.log" \
  --postgres-url jdbc:postgresql://127.0.0.1:15432/postgres \
  --database db1 \
  --vault-address http://127.0.0.1:8200 \
  --kubernetes-host https://127.0.0.1:6443 --kubernetes-ca-file "$work/ca.crt" \
  || { cat "$work/setup.log"; exit 1; }
tail -1 "$work/setup.log"

echo "Starting the broker (log: $work/broker.log) ..."
java -jar "$broker_jar" --spring.profiles.active=dev >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 120); do
  if (exec 3<>/dev/tcp/127.0.0.1/9090) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    break
  fi
  if ! kill -0 "$broker_pid" 2>/dev/null; then tail -50 "$work/broker.log"; exit 1; fi
  sleep 1
done

kubeconfig=$(cd "$work" && pwd)/kubeconfig
cat <<EOT

credential-broker is running: gRPC 127.0.0.1:9090, HTTP 127.0.0.1:8080 (Ctrl-C stops everything).
$(sed -n '/dev-stack is running/,/^$/p' "$work/dev-stack.log")

Get a credential as pod app-1 of service account public/application:
  kubectl --kubeconfig $kubeconfig -n public run app-1 --image=busybox --overrides='{"spec":{"serviceAccountName":"application"}}'
  TOKEN=\$(kubectl --kubeconfig $kubeconfig create token application -n public --audience credbroker --bound-object-kind Pod --bound-object-name app-1)
  grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d '{"database_role":"db1"}' 127.0.0.1:9090 credbroker.v1.CredentialBroker/WatchCredential
  (grpcurl finds the API through server reflection; the contract is api-proto/src/main/proto/credbroker/v1/)

Metrics: curl -s http://127.0.0.1:8080/actuator/prometheus | grep credbroker_
EOT
wait "$broker_pid"
