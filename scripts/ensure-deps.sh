#!/usr/bin/env bash
# What `npm run demo` and `npm test` need before they start: Debian packages when missing, and
# the npm packages from the lockfile when they were never installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -x node_modules/.bin/vitest ] || npm ci --no-audit --no-fund
