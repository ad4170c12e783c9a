#!/usr/bin/env bash
# `npm run demo`: no MySQL of yours needed. Installs what is missing, starts a throwaway local
# server with sample data, and runs the sidecar against it; dumps land in
# container-volumes/backup/mysql.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
npm run build --silent
exec npx tsx scripts/demo.ts
