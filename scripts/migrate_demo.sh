#!/usr/bin/env bash
# `make migrate-demo`: move a fine-tune off a retiring model, with proof. Offline, after `make demo`.
#
#  1. The adapter `make demo` promoted plays a hosted fine-tune of gpt-4o-mini-2024-07-18 (shutting
#     down 2027-01-14), served on loopback and reached through the `openai` provider.
#  2. Record it on the labelled test split and on an unlabelled pool (the train split's texts, no labels).
#  3. Distil: its recorded answers on the pool become training data; fine-tune a fresh base on them.
#  4. Run base, retiring and replacement on suites/support_intent_migrate.yaml (ground truth + agreement
#     with the recording), gate the replacement against the retiring model, write one three-way report.
set -euo pipefail
cd "$(dirname "$0")/.."

H=${HARNESS:-.venv/bin/harness}
PY=${PYTHON:-.venv/bin/python}
OUT=${MIGRATE_OUT:-reports/migrate}
PORT=${MIGRATE_PORT:-8765}
LINEAGE=${MIGRATE_LINEAGE:-reports/iterate/support-intent-local/lineage.json}
# A quick smoke of the plumbing (not the demo's figures): MIGRATE_LIMIT=N asks only N inputs per
# recording and run, MIGRATE_MAX_STEPS=N caps the replacement's fine-tune.
LIMIT=(${MIGRATE_LIMIT:+--limit "$MIGRATE_LIMIT"})
EVAL_LIMIT=(${MIGRATE_LIMIT:+--eval-limit "$MIGRATE_LIMIT"})
STEPS=(${MIGRATE_MAX_STEPS:+--max-steps "$MIGRATE_MAX_STEPS"})
SERVED=ft:gpt-4o-mini-2024-07-18:northwind:support-intent:demo
# 16 requests in flight: the server decodes concurrent requests together (harness.serve.local's
# MicroBatcher, batches of up to 16), as a serving engine would; a long timeout, since a client that
# gave up on a slow answer and asked again would queue work behind work it no longer waits for.
RETIRING="openai:${SERVED}?base_url=http://127.0.0.1:${PORT}/v1&concurrency=16&timeout_s=900"

if [[ ! -f $LINEAGE ]]; then
  echo "migrate-demo: $LINEAGE not found; run 'make demo' first (its promoted adapter plays the retiring model)" >&2
  exit 2
fi
ADAPTER=$("$PY" - "$LINEAGE" <<'EOF'
import json, sys
rec = json.load(open(sys.argv[1]))
its = rec.get("iterations", [])
best = (rec.get("final") or {}).get("best_iteration")
pick = [e for e in its if e.get("promoted")] or [e for e in its if e.get("iteration") == best]
adapter = pick[0].get("adapter") if pick else None
if not adapter:
    sys.exit("migrate-demo: lineage.json names no promoted (or best) adapter")
print(adapter)
EOF
)
echo "== the retiring fine-tune: adapter $ADAPTER served as $SERVED on 127.0.0.1:$PORT"
mkdir -p "$OUT"
"$PY" -m harness.serve.local --model "local?adapter=$ADAPTER" --port "$PORT" --served-name "$SERVED" \
  --base-name gpt-4o-mini-2024-07-18 --shutdown-date 2027-01-14 >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v1/models', timeout=1)" 2>/dev/null && break
  kill -0 $SERVER 2>/dev/null || { cat "$OUT/server.log" >&2; exit 4; }
  sleep 1
done

echo "== what is retiring"
"$H" models --base-url "http://127.0.0.1:$PORT/v1"

echo "== record the retiring model on the test split and on an unlabelled pool"
"$H" record suites/support_intent.yaml --split test --model "$RETIRING" --out "$OUT/retiring-test" --no-progress \
  "${LIMIT[@]}"
"$PY" - "$OUT/pool.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open("datasets/support_intent/train.jsonl")]
with open(sys.argv[1], "w") as fh:
    for r in rows:  # production-like traffic: the texts only, no labels
        fh.write(json.dumps({"id": "pool-" + r["id"], "text": r["text"]}) + "\n")
EOF
"$H" record suites/support_intent.yaml --inputs "$OUT/pool.jsonl" --id-field id --model "$RETIRING" \
  --out "$OUT/retiring-pool" --no-progress "${LIMIT[@]}"

echo "== distil: the retiring model's answers on the pool become training data (cleaned, deduplicated, checked)"
"$H" data prepare --from-recording "$OUT/retiring-pool" --out "$OUT/distilled" --suite suites/support_intent.yaml \
  --category-field intent --category-from-output --tokenizer smollm2
"$H" iterate suites/support_intent.yaml --data "$OUT/distilled/distilled.jsonl" --base local --max-iterations 1 \
  --out "$OUT/replacement" "${EVAL_LIMIT[@]}" "${STEPS[@]}" || { c=$?; [[ $c -eq 1 || $c -eq 5 ]]; }  # its own gate is against the base; the migration gate follows
NEW=$("$PY" -c "import json,sys; its=json.load(open('$OUT/replacement/lineage.json'))['iterations']; print([e for e in its if e.get('adapter')][-1]['adapter'])")

echo "== base, retiring and replacement on the migration suite (ground truth + agreement with the recording)"
"$H" run suites/support_intent_migrate.yaml --model "local?label=base" --out "$OUT/runs/base" --no-progress "${LIMIT[@]}"
"$H" run suites/support_intent_migrate.yaml --model "$RETIRING&label=retiring" --out "$OUT/runs/retiring" --no-progress "${LIMIT[@]}"
"$H" run suites/support_intent_migrate.yaml --model "local?adapter=$NEW&label=replacement" --out "$OUT/runs/replacement" --no-progress "${LIMIT[@]}"

echo "== the gate: replacement versus the retiring model"
set +e
"$H" gate suites/support_intent_migrate.yaml --baseline "$OUT/runs/retiring" --candidate "$OUT/runs/replacement" \
  --out "$OUT/gate"
GATE=$?
set -e
"$H" report "$OUT/runs/base" "$OUT/runs/retiring" "$OUT/runs/replacement" --out "$OUT/report.html"
case $GATE in
  0) echo "migrate-demo: PROMOTE the replacement (three-way report: $OUT/report.html)";;
  1) echo "migrate-demo: BLOCKED, keep the retiring model while it lasts (three-way report: $OUT/report.html)";;
  5) echo "migrate-demo: INCONCLUSIVE, this test split cannot tell; keep the retiring model until more examples decide (three-way report: $OUT/report.html)";;
  *) exit $GATE;;
esac
