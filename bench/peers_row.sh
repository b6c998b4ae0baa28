#!/usr/bin/env bash
# The project's row in the peers throughput rig (../shared/peers/README.md): `harness run` of the
# rig's 500 cases against its fake server (http://127.0.0.1:8799/v1, 100 ms) at concurrency 64.
#
#   bash ../shared/peers/run.sh bash "$PWD/bench/peers_row.sh"    # a row beside promptfoo and inspect_ai
#   bash bench/peers_row.sh --standalone    # no rig: our own fake server (tests.fakes.fake_openai)
#                                           # on 8799 with 100 ms latency, timed with /usr/bin/time
# HARNESS_PYTHON=PATH runs the harness with another interpreter (default: the checkout's .venv).
set -eu
here=$(cd "$(dirname "$0")" && pwd); root=$(dirname "$here")
py="${HARNESS_PYTHON:-$root/.venv/bin/python}"
url="${FAKE_BASE_URL:-http://127.0.0.1:8799/v1}"
tmp=$(mktemp -d); srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# The cases: the rig's folder (run.sh runs this from there), else ../shared/peers beside the checkout.
cases="${PEERS_DIR:-}"
if [ -z "$cases" ]; then
  if [ -f "$PWD/cases.jsonl" ]; then cases=$PWD; else cases="$root/../shared/peers"; fi
fi
[ -f "$cases/cases.jsonl" ] || { echo "peers_row: cases.jsonl not found (set PEERS_DIR to the rig's folder)" >&2; exit 2; }
# A suite may read only files inside its project root (here: its own folder, since $tmp is in no git
# repository), so the cases are copied next to it and dataset.path points at that folder.
cp "$cases/cases.jsonl" "$tmp/cases.jsonl"
sed "s|^  path: .*|  path: .|" "$here/peers_suite.yaml" > "$tmp/peers_suite.yaml"
cmd=("$py" -m harness.cli run "$tmp/peers_suite.yaml" --model "openai:fake?base_url=$url&concurrency=64"
     --reports "$tmp" --no-progress)
if [ "${1:-}" = "--standalone" ]; then
  (cd "$root" && exec "$py" -m tests.fakes.fake_openai --port 8799 --latency 0.1 >/dev/null 2>&1) & srv=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/8799) 2>/dev/null && break; sleep 0.1; done
  /usr/bin/time -f "project (standalone)  conc=64  wall=%es  cpu=%Us user + %Ss sys  rss=%MKB" "${cmd[@]}"
else
  "${cmd[@]}"
fi
