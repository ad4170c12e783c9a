#!/usr/bin/env bash
# A Docker engine and Docker Compose v2 for `npm run test:compose`, on a machine that may have
# neither: Debian's docker.io, started in the background when no engine answers, and the compose
# plugin from Debian's docker-compose package of the unstable suite (bookworm's is the old v1).
# Needs root for what it installs or starts; does nothing when both already work.
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/mysql-backup-sidecar-dockerd.log}
PLUGIN_DIR=/usr/libexec/docker/cli-plugins
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

need_root() {
  [ "$(id -u)" -eq 0 ] || { echo "docker-engine.sh: $1 needs root" >&2; exit 1; }
}

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  need_root "installing docker.io"
  echo "docker-engine.sh: installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq docker.io >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; }
fi

if ! docker info >/dev/null 2>&1; then
  need_root "starting dockerd"
  echo "docker-engine.sh: starting dockerd (log: $LOG)" >&2
  setsid dockerd >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 "$LOG" >&2; echo "docker-engine.sh: dockerd did not answer within 60 s" >&2; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
  need_root "installing the compose plugin"
  echo "docker-engine.sh: installing Docker Compose v2 from Debian unstable's docker-compose" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR unstable main" >"$work/sources.list"
  # Valid-Until off as in scripts/mysql-root.sh: a mirror snapshot's unstable Release file can be
  # past it. The package is still checked against Debian's archive key.
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives" -o Acquire::Check-Valid-Until=false)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download docker-compose >/dev/null)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/x"
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
  docker compose version >&2
fi
