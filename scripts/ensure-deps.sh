#!/usr/bin/env bash
# What `npm run demo`, `npm test` and CI need before they start: Debian packages when missing,
# and the npm packages of the lockfile when they were never installed. --bench: also the
# benchmark's tools. --mysql-root: also real MySQL for the tests (scripts/mysql-root.sh, cached
# under /var/cache; about a minute the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
bench=()
for arg in "$@"; do
  case "$arg" in
    --bench) bench=(--bench) ;;
    # Without it only the MySQL tests fail, each saying how to build it.
    --mysql-root) bash scripts/mysql-root.sh >/dev/null || echo "ensure-deps.sh: no MySQL test root; the mysql test project will fail" >&2 ;;
    *) echo "ensure-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
bash scripts/install-system-deps.sh "${bench[@]}"

[ -x node_modules/.bin/vitest ] && [ -x node_modules/.bin/tsc ] && exit 0
# npm 11 leaves other platforms' optional packages (rollup's native builds) out of the lockfile
# and then `npm ci` refuses that same lockfile (npm/cli#4828). `npm install` installs the very
# versions the lockfile pins, so it is the fallback.
if ! npm ci --no-audit --no-fund; then
  echo "npm ci refused the lockfile (npm/cli#4828); installing the same pinned versions with npm install" >&2
  npm install --no-audit --no-fund
fi
