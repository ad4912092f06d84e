#!/usr/bin/env bash
# Cold start of each function binary: milliseconds from exec to a 200 on /health/readiness, and
# resident memory once idle. Needs PostgreSQL (ADMIN_URL, the local server by default); the
# database schemas are created and migrated by a first, unmeasured start, as in a running system.
# Usage: scripts/coldstart.sh   (make coldstart)
set -euo pipefail
cd "$(dirname "$0")/.."
ADMIN_URL=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=coldstart_$$
bin=$(mktemp -d)
trap 'rm -rf "$bin"; psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
go build -trimpath -ldflags '-s -w' -o "$bin/" ./cmd/order ./cmd/inventory ./cmd/payment ./cmd/shipping ./cmd/user ./cmd/deadletter
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
url() { echo "postgres://ordersaga_$1:ordersaga_$1@127.0.0.1:5432/$DB?sslmode=disable"; }
declare -A schema=([order]=orders [inventory]=inventory [payment]=payment [shipping]=shipping [user]=users [deadletter]=deadletter)
for fn in "${!schema[@]}"; do
  psql -q "${ADMIN_URL%/*}/$DB?sslmode=disable" >/dev/null <<SQL
DO \$\$ BEGIN CREATE ROLE ordersaga_$fn LOGIN PASSWORD 'ordersaga_$fn'; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
CREATE SCHEMA IF NOT EXISTS ${schema[$fn]} AUTHORIZATION ordersaga_$fn;
SQL
done
pub=$(mktemp); openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout > "$pub"
env_for() { # sets the array fnenv
  fnenv=()
  case $1 in
    order) fnenv=("DATABASE_URL=$(url order)" "KAFKA_BROKERS=127.0.0.1:1" "AUTH_PUBLIC_KEY=$(cat "$pub")") ;;
    inventory) fnenv=("DATABASE_URL=$(url inventory)" "AUTH_PUBLIC_KEY=$(cat "$pub")") ;;
    user) fnenv=("DATABASE_URL=$(url user)" "AUTH_DEV_KEY_FILE=$bin/key.pem") ;;
    deadletter) fnenv=("DATABASE_URL=$(url deadletter)" "AUTH_PUBLIC_KEY=$(cat "$pub")" "K_SINK=http://127.0.0.1:1") ;;
    *) fnenv=("DATABASE_URL=$(url "$1")") ;;
  esac
}
port=18900
start() { # start <fn>: prints "<ms> <pid>"
  local fn=$1 t0 tries=0; port=$((port + 1)); env_for "$fn"; t0=$(date +%s%N)
  # EVENT_AUTH=off: no sender-token issuer here, and a function with an event endpoint does not
  # start without one unless told so.
  env "${fnenv[@]}" EVENT_AUTH=off PORT=$port HOST=127.0.0.1 "$bin/$fn" >"$bin/$fn.log" 2>&1 &
  local pid=$!
  until curl -sf "http://127.0.0.1:$port/health/readiness" >/dev/null; do
    tries=$((tries + 1))
    if [ $tries -gt 5000 ] || ! kill -0 "$pid" 2>/dev/null; then echo "$fn did not start:" >&2; cat "$bin/$fn.log" >&2; exit 1; fi
    sleep 0.002
  done
  echo "$(( ($(date +%s%N) - t0) / 1000000 )) $pid"
}
printf '%-11s %10s %12s %10s\n' function ready_ms idle_rss_MB binary_MB
for fn in order inventory payment shipping user deadletter; do
  read -r _ pid < <(start "$fn"); kill "$pid"; wait "$pid" 2>/dev/null || true   # migrate once
  read -r ms pid < <(start "$fn")
  sleep 2
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-11s %10s %12s %10s\n' "$fn" "$ms" "$rss" "$(du -m "$bin/$fn" | cut -f1)"
done
rm -f "$pub"
