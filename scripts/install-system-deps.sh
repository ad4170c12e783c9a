#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need when this machine lacks them:
# a MySQL-compatible server to throw away, the client tools, zstd, Prometheus, and FUSE's vfat.
# With --bench, also what `npm run bench` compares with and measures by: sysbench, mydumper, GNU time.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
{ have mariadbd || have mysqld; } && { have mariadb-install-db || have mysqld; } || missing+=(mariadb-server)
{ have mysql && have mysqldump; } || missing+=(mariadb-client)
have zstd || missing+=(zstd)
have gzip || missing+=(gzip)
have setpriv || missing+=(util-linux)
# Prometheus scrapes the daemon in a test; promtool checks and unit-tests the alert rules.
{ have prometheus && have promtool; } || missing+=(prometheus)
# amtool checks the example Alertmanager route.
have amtool || missing+=(prometheus-alertmanager)
# A FAT volume (no hard links, no modes) as BACKUP_DIR, mounted through FUSE: the kernel here has no vfat.
have fusefat || missing+=(fusefat)
have mkfs.vfat || missing+=(dosfstools)
if [ "${1:-}" = "--bench" ]; then
  have sysbench || missing+=(sysbench)
  have mydumper || missing+=(mydumper)
  [ -x /usr/bin/time ] || missing+=(time)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "not root: install these yourself, e.g. sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The package's own service is not wanted here: tests and the demo start their own servers.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
