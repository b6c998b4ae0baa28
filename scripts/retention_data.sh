#!/usr/bin/env bash
# The retention subsets (datasets/retention/<set>/*.jsonl, LICENSE) are third-party benchmark data
# taken from fetched snapshots of public repositories: the workplace's rule keeps such data out of
# the project's git history, so they are built here, locally, from those snapshots (nothing is
# downloaded), or copied from the shared/ folder beside the checkout. SOURCE.md (committed) pins
# every file's sha256; the build checks its sources against pinned hashes.
# Usage: scripts/retention_data.sh   (HARNESS_MIRROR: the snapshots' folder, default /work/.mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
sets="arc_easy hellaswag gsm8k ifeval wikitext"
have() { for s in $sets; do [ -f "$1/$s/test.jsonl" ] && [ -f "$1/$s/LICENSE" ] || return 1; done; }
if have datasets/retention; then exit 0; fi
if have ../shared/retention; then
  for s in $sets; do cp -n ../shared/retention/$s/* datasets/retention/$s/; done
  echo "retention data: copied from ../shared/retention" >&2; exit 0
fi
mirror=${HARNESS_MIRROR:-/work/.mirror}
py=.venv/bin/python; [ -x $py ] || py=python3
if [ -d "$mirror" ] && $py datasets/retention/build.py --mirror "$mirror" >/dev/null; then
  echo "retention data: built from the snapshots in $mirror" >&2; exit 0
fi
echo "retention data: not built (no snapshots in $mirror, no ../shared/retention): the retention suites are skipped;" \
     "see datasets/retention/*/SOURCE.md for the sources and the command" >&2
