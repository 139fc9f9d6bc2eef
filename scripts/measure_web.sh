#!/usr/bin/env bash
# Measures the foundation's web figures on this machine and prints one JSON line: idle RSS of
# `offstage serve`, binary size, and wrk's median latency over 10 s for GET /healthz and for
# the signed-in workspace list with 1,000 workspaces. Needs a release build and wrk.
set -euo pipefail
bin="${OFFSTAGE_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/offstage}"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
port=${PORT:-18181}
export OFFSTAGE_DATA_DIR="$work/data" OFFSTAGE_BIND="127.0.0.1:$port" OFFSTAGE_LOG=warn
export OFFSTAGE_ADMIN_EMAIL=bench@example.com OFFSTAGE_ADMIN_PASSWORD=bench-password-123
export OFFSTAGE_SECRET_KEY=bench-secret-bench-secret-bench-secret-0123
cd "$work"
"$bin" migrate >/dev/null
"$bin" serve >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
sleep 2
idle_rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
for i in $(seq -w 1 1000); do
  "$bin" workspace create --name "Customer $i" --owner bench@example.com >/dev/null
done
jar="$work/cookies"
token=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
curl -s -c "$jar" -b "$jar" -o /dev/null -d "csrf_token=$token&email=bench@example.com&password=bench-password-123" "http://127.0.0.1:$port/login"
cookie=$(awk '$6 == "offstage_session" {print $6"="$7}' "$jar")
# "p50 req/s" of a 10-second wrk run.
load() { wrk -t2 -c16 -d10s --latency "$@" | awk '$1 == "50%" {p=$2} $1 == "Requests/sec:" {r=$2} END {print p, r}'; }
read -r health_p50 health_rps <<<"$(load "http://127.0.0.1:$port/healthz")"
read -r list_p50 list_rps <<<"$(load -H "Cookie: $cookie" "http://127.0.0.1:$port/admin/workspaces")"
list_check=$(curl -s -H "Cookie: $cookie" "http://127.0.0.1:$port/admin/workspaces" | grep -o '1000 in all' || true)
printf '{"binary_bytes":%s,"idle_rss_kb":%s,"healthz_p50":"%s","healthz_rps":%s,"workspace_list_1000_p50":"%s","workspace_list_rps":%s,"list_shows":"%s","wrk":"-t2 -c16 -d10s"}\n' \
  "$(stat -c %s "$bin")" "$idle_rss_kb" "$health_p50" "$health_rps" "$list_p50" "$list_rps" "$list_check"
