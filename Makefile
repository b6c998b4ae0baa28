# The two commands a new user types (see README.md). Each sets itself up first.
.PHONY: try demo test setup bench migrate-demo

try:  ## the tour in seconds, offline, no key, no training: a tiny suite, two scripted models, run, compare, gate, HTML report
	@scripts/setup.sh --core
	.venv/bin/harness quickstart reports/quickstart

demo:  ## the main job: the whole fine-tuning loop (base eval, LoRA fine-tune, checkpoints by metric, candidate eval, retention, gate, report)
	@scripts/setup.sh
	@scripts/retention_data.sh
	.venv/bin/harness iterate suites/support_intent_release.yaml --base local --max-iterations 3

migrate-demo:  ## after `make demo`: record the promoted adapter as a retiring fine-tune, distil a replacement, gate it, three-way report
	@scripts/setup.sh
	scripts/migrate_demo.sh

test:  ## the whole test suite, real models and servers on loopback included
	@scripts/setup.sh --test
	@scripts/retention_data.sh
	.venv/bin/python -m pytest -q

bench:  ## harness overhead and throughput figures (not a test)
	@scripts/setup.sh
	.venv/bin/python bench/run_all.py
