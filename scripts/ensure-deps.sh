#!/usr/bin/env bash
# What `npm run demo`, `npm test` and CI need before they start: Debian packages when missing,
# and the npm packages of the lockfile when they were never installed. --bench: also the
# benchmark's tools.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh "$@"

[ -x node_modules/.bin/vitest ] && [ -x node_modules/.bin/tsc ] && exit 0
# npm 11 leaves other platforms' optional packages (rollup's native builds) out of the lockfile
# and then `npm ci` refuses that same lockfile (npm/cli#4828). `npm install` installs the very
# versions the lockfile pins, so it is the fallback.
if ! npm ci --no-audit --no-fund; then
  echo "npm ci refused the lockfile (npm/cli#4828); installing the same pinned versions with npm install" >&2
  npm install --no-audit --no-fund
fi
