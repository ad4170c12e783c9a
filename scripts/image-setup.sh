#!/bin/sh
# Run once by the Dockerfile, as root, in the runtime stage (the server's own image).
set -eu

# zstd: the official mysql images ship it; where the server image lacks it, its own package
# manager installs it (Debian/Ubuntu apt, Oracle Linux microdnf).
if ! command -v zstd >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends zstd >/dev/null
    # The package lists and apt's binary caches would add some 80 MB for a 1 MB program.
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
  elif command -v microdnf >/dev/null 2>&1; then
    microdnf install -y zstd >/dev/null
    microdnf clean all >/dev/null
  else
    echo "image-setup: the server image has no zstd and no apt-get or microdnf to install it" >&2
    exit 1
  fi
fi

# The sidecar runs as uid/gid 1000, the owner the README gives the host's backup directory.
getent group 1000 >/dev/null || echo 'sidecar:x:1000:' >>/etc/group
getent passwd 1000 >/dev/null || echo 'sidecar:x:1000:1000:mysql-backup-sidecar:/app:/usr/sbin/nologin' >>/etc/passwd

# Every tool the sidecar runs: found, starts, and all its libraries resolve.
failed=0
check() { # role, then the names it may have
  role=$1
  shift
  for name in "$@"; do
    path=$(command -v "$name" 2>/dev/null) || continue
    if command -v ldd >/dev/null 2>&1 && ldd "$path" 2>&1 | grep -q 'not found'; then
      echo "image-setup: $path cannot load its libraries:" >&2
      ldd "$path" | grep 'not found' >&2
      failed=1
      return
    fi
    if ! version=$("$path" --version 2>&1); then
      echo "image-setup: $path --version failed: $version" >&2
      failed=1
      return
    fi
    echo "image-setup: $role: $path: $(echo "$version" | head -1)"
    return
  done
  echo "image-setup: no $role ($*) in the image" >&2
  failed=1
}
check node node
check zstd zstd
check mysqldump mysqldump mariadb-dump
check mysql mysql mariadb
check mysqlbinlog mysqlbinlog mariadb-binlog
exit "$failed"
