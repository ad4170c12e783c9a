#!/usr/bin/env bash
# Local stand-ins for the images the compose stack names, for a machine that reaches no image
# registry (`npm run test:compose` uses them; with a registry, use the real images instead):
#
#   mbs-standin/debian:bookworm    debootstrap --variant=minbase bookworm, imported
#   mbs-standin/node:20            this machine's node and npm on it          (for node:20-bookworm-slim)
#   mbs-standin/mysql:9.7          Debian's MySQL 9.7 from scripts/mysql-root.sh (for mysql:9.7)
#   mbs-standin/mariadb:10.11      Debian bookworm's MariaDB 10.11               (for mariadb:10.11)
#   mbs-standin/prometheus:2       Debian's Prometheus                           (for prom/prometheus)
#
# Each is built once and kept: the engine's image store is the cache, and the debootstrapped root
# is also kept as a tarball under /var/cache, so a wiped engine rebuilds in seconds. An image is
# rebuilt when the files that define it change (a hash in its label). Needs root and an engine
# (scripts/docker-engine.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${MBS_CACHE:-/var/cache/mysql-backup-sidecar}
DEFS=test/compose/standins
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LABEL=org.mysql-backup-sidecar.standin

definition_hash() { cat "$@" | sha256sum | cut -c1-16; }
current() { # image hash: 0 when the image exists with that hash
  [ "$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null)" = "$2" ]
}
build() { # image hash dockerfile [build-arg ...]
  local image=$1 hash=$2 dockerfile=$3 context=${CONTEXT:-$DEFS}
  shift 3
  current "$image" "$hash" && return 0
  echo "compose-standins.sh: building $image" >&2
  local args=()
  for arg in "$@"; do args+=(--build-arg "$arg"); done
  local log
  log=$(mktemp)
  docker build --network host --label "$LABEL=$hash" -t "$image" -f "$DEFS/$dockerfile" "${args[@]}" "$context" >"$log" 2>&1 ||
    { tail -30 "$log" >&2; rm -f "$log"; echo "compose-standins.sh: building $image failed" >&2; exit 1; }
  rm -f "$log"
}

# The bookworm base, from a cached root tarball.
base=mbs-standin/debian:bookworm
base_hash=$(echo "bookworm minbase $MIRROR" | sha256sum | cut -c1-16)
if ! current "$base" "$base_hash"; then
  tarball=$CACHE/debian-bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    echo "compose-standins.sh: debootstrapping bookworm into $tarball" >&2
    mkdir -p "$CACHE"
    root=$(mktemp -d "$CACHE/bookworm.build-XXXXXX")
    trap 'rm -rf --one-file-system "$root"' EXIT
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
    rm -f "$root.log"
    # Nothing is mounted in it (debootstrap unmounts /proc), and tar stays on its file system anyway.
    tar --one-file-system -C "$root" -cf "$tarball.new" .
    mv "$tarball.new" "$tarball"
    rm -rf --one-file-system "$root"
    trap - EXIT
  fi
  docker import --change "LABEL $LABEL=$base_hash" --change 'CMD ["bash"]' "$tarball" "$base" >/dev/null
fi

# node: the host's node binary, npm and CA bundle go into a throwaway build context.
node_bin=$(command -v node)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
registry=$(npm config get registry)
cafile=$(npm config get cafile)
[ -n "$cafile" ] && [ "$cafile" != null ] || cafile=/etc/ssl/certs/ca-certificates.crt
node_hash=$( { definition_hash "$DEFS/node.Dockerfile"; "$node_bin" --version; echo "$registry"; sha256sum "$cafile"; } | sha256sum | cut -c1-16)
if ! current mbs-standin/node:20 "$node_hash"; then
  ctx=$(mktemp -d)
  cp "$node_bin" "$ctx/node"
  cp -a "$npm_dir" "$ctx/npm"
  cp "$cafile" "$ctx/ca-certificates.crt"
  CONTEXT=$ctx build mbs-standin/node:20 "$node_hash" node.Dockerfile "BASE_IMAGE=$base" "NPM_REGISTRY=$registry"
  rm -rf "$ctx"
fi

build mbs-standin/mariadb:10.11 "$(definition_hash "$DEFS/mariadb.Dockerfile" "$DEFS/server-entrypoint.sh" "$DEFS/mariadb-healthcheck.sh")" \
  mariadb.Dockerfile "BASE_IMAGE=$base"
build mbs-standin/prometheus:2 "$(definition_hash "$DEFS/prometheus.Dockerfile")" prometheus.Dockerfile "BASE_IMAGE=$base"

# mysql: the test root of scripts/mysql-root.sh, imported without its host wrappers.
mysql_root=$(bash scripts/mysql-root.sh)
mysql_hash=$( { definition_hash "$DEFS/mysql.Dockerfile" "$DEFS/server-entrypoint.sh"; "$mysql_root/bin-host/mysqld" --version; } | sha256sum | cut -c1-16)
if ! current mbs-standin/mysql:9.7 "$mysql_hash"; then
  root_image=mbs-standin/mysql-root:9.7
  if ! current "$root_image" "$mysql_hash"; then
    tar --one-file-system -C "$mysql_root" --exclude=./bin-host -c . |
      docker import --change "LABEL $LABEL=$mysql_hash" - "$root_image" >/dev/null
  fi
  build mbs-standin/mysql:9.7 "$mysql_hash" mysql.Dockerfile "ROOT_IMAGE=$root_image"
fi
docker images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' 'mbs-standin/*' >&2
