#!/usr/bin/env bash
# Real MySQL for the tests: Debian ships MySQL only in its unstable suite (mysql-server-core and
# mysql-client-core, 9.7 today), built against that suite's newer glibc. So they live in a
# debootstrapped unstable root, built once (about a minute) and cached under /var/cache, and run
# with the root's own dynamic loader and libraries (bin-host/ below) rather than by chroot: paths
# stay the same inside and out (the private defaults file, data directories), and a test running
# the sidecar as an unprivileged user can still run the tools.
#
#   scripts/mysql-root.sh            build the root when missing, refresh bin-host/; print its path
#   MYSQL_ROOT=/elsewhere scripts/mysql-root.sh
#
# The root is built aside and renamed into place, so an interrupted build leaves nothing that looks
# finished. Nothing is ever mounted into it outside a private mount namespace: a copy or `rm -rf`
# of the cache can never walk into /proc or the host's /dev.
set -euo pipefail

ROOT=${MYSQL_ROOT:-/var/cache/mysql-backup-sidecar/mysql-root}
SUITE=${MYSQL_ROOT_SUITE:-unstable}
MIRROR=${MYSQL_ROOT_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(mysql-server-core mysql-client-core)

# bin-host/: each tool as a script that runs the root's binary with the root's loader and
# libraries. LIBMYSQL_PLUGIN_DIR keeps libmysqlclient from loading the host's MariaDB plugins;
# PWD, which the shell would pass on, is dropped so the tool's environment is what its caller gave.
write_wrappers() {
  local tree=$1 loader libdir tool dir
  loader=$(cd "$tree" && ls usr/lib64/ld-linux-*.so.* usr/lib/*-linux-gnu/ld-linux-*.so.* 2>/dev/null | head -1) || true
  libdir=$(cd "$tree" && ls -d usr/lib/*-linux-gnu 2>/dev/null | head -1) || true
  [ -n "$loader" ] && [ -e "$tree/$libdir/libc.so.6" ] || { echo "no dynamic loader or libc found in $tree" >&2; exit 1; }
  mkdir -p "$tree/bin-host"
  for tool in mysql mysqldump mysqlbinlog mysqladmin mysqld; do
    dir=usr/bin
    [ "$tool" = mysqld ] && dir=usr/sbin
    printf '%s\n' '#!/bin/sh' \
      "# $tool of the MySQL test root, run with that root's own loader and libraries (scripts/mysql-root.sh)." \
      'unset PWD OLDPWD' \
      "root='$ROOT'" \
      "LIBMYSQL_PLUGIN_DIR=\"\$root/usr/lib/mysql/plugin\" exec \"\$root/$loader\" --library-path \"\$root/$libdir\" \"\$root/$dir/$tool\" \"\$@\"" \
      >"$tree/bin-host/$tool.new"
    chmod 0755 "$tree/bin-host/$tool.new"
    mv "$tree/bin-host/$tool.new" "$tree/bin-host/$tool"
  done
}

if [ -x "$ROOT/usr/sbin/mysqld" ]; then
  # Cheap, and keeps the wrappers in step with this script; only root may write the cache.
  [ "$(id -u)" -eq 0 ] && write_wrappers "$ROOT"
  echo "$ROOT"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "the MySQL test root $ROOT is missing and building it needs root: sudo $0" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
}

mkdir -p "$(dirname "$ROOT")"
BUILD=$(mktemp -d "$ROOT.build-XXXXXX")
# apt's _apt user and the tests' unprivileged sidecar both need to enter it.
chmod 0755 "$BUILD"
trap 'rm -rf --one-file-system "$BUILD" "$BUILD.log"' EXIT
echo "building the MySQL test root in $ROOT (debootstrap $SUITE, then ${PACKAGES[*]})" >&2
debootstrap --variant=minbase "$SUITE" "$BUILD" "$MIRROR" >"$BUILD.log" 2>&1 || {
  tail -20 "$BUILD.log" >&2
  exit 1
}
cp /etc/resolv.conf "$BUILD/etc/resolv.conf"
# /proc and /dev exist in the build only inside this private mount namespace and vanish with it.
# The unstable suite's Release file can be past its Valid-Until on a mirror snapshot.
unshare --mount --propagation private -- sh -ec '
  mount -t proc proc "$1/proc"
  mount --rbind /dev "$1/dev"
  shift
  chroot "$0" sh -ec "
    apt-get -o Acquire::Check-Valid-Until=false update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $*
    apt-get clean
    rm -rf /var/lib/apt/lists/*
  "
' "$BUILD" "$BUILD" "${PACKAGES[@]}" >&2
write_wrappers "$BUILD"

rm -rf --one-file-system "$ROOT"
mv "$BUILD" "$ROOT"
trap - EXIT
"$ROOT/bin-host/mysqldump" --version >&2
echo "$ROOT"
