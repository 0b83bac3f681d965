#!/usr/bin/env bash
# The engines dockfix's end-to-end harness builds with.
#
#   e2e/engine.sh up [--trust-host-ca]   install what is missing, start both engines, make the images
#   e2e/engine.sh down                   stop what `up` started
#   e2e/engine.sh docker ARGS...         run the current Docker CLI inside the modern engine
#
# A bootstrap engine (Debian's docker.io, Docker 20.10) imports Debian root
# filesystems made with debootstrap, given the apt configuration of the
# official images, as debian:bookworm, debian:bookworm-slim and
# debian:trixie, builds toolchain images tagged with the official names
# (python:3.11-slim, node:18, golang:1.19, rust:1.85-trixie) and runs a
# current engine (Docker 26 / BuildKit from Debian trixie) as a container;
# fixture builds run there.
# Nothing is pulled from a registry. Images and the modern engine's storage
# live in $DOCKFIX_E2E_HOME (default ~/.cache/dockfix-e2e) and are reused.
#
# --trust-host-ca adds the host's CA bundle to the base images' local CAs
# (/usr/local/share/ca-certificates), for machines behind a TLS-intercepting
# proxy. It takes effect where the image installs the ca-certificates
# package, as a corporate CA would: an image without that package still has
# no CA bundle, exactly as on the official images, so a rewrite that drops
# ca-certificates still shows up as broken https. Images carry a stamp of how
# they were made and are rebuilt when it changes.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
E2E_HOME="${DOCKFIX_E2E_HOME:-$HOME/.cache/dockfix-e2e}"
BOOT_SOCK="$E2E_HOME/bootstrap.sock"
BOOT_PID="$E2E_HOME/bootstrap.pid"
ENGINE=dockfix-e2e-engine
ENGINE_IMAGE=dockfix-e2e/engine:trixie
MIRROR=http://deb.debian.org/debian
HOST_CA=/etc/ssl/certs/ca-certificates.crt
# Bump when the way base images are made changes, to rebuild them.
BASE_RECIPE=5
boot() { /usr/bin/docker -H "unix://$BOOT_SOCK" "$@"; }
log() { printf '[e2e] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_packages() {
    local missing=()
    for pkg in docker.io debootstrap; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

start_bootstrap() {
    if boot info >/dev/null 2>&1; then
        return # ours, left by an earlier `up`
    fi
    log "starting the bootstrap engine"
    mkdir -p "$E2E_HOME/bootstrap"
    # An engine killed without `down` leaves its pid file behind.
    if [ -f "$BOOT_PID" ] && ! kill -0 "$(cat "$BOOT_PID")" 2>/dev/null; then
        rm -f "$BOOT_PID"
    fi
    dockerd --host "unix://$BOOT_SOCK" --data-root "$E2E_HOME/bootstrap/data" \
        --exec-root /run/dockfix-e2e --pidfile "$BOOT_PID" \
        >"$E2E_HOME/bootstrap.log" 2>&1 &
    for _ in $(seq 60); do
        boot info >/dev/null 2>&1 && return
        sleep 1
    done
    tail -20 "$E2E_HOME/bootstrap.log" >&2
    die "the bootstrap engine did not start (log: $E2E_HOME/bootstrap.log)"
}

# The stamp an image carries to say how it was made.
stamp_of() { boot image inspect -f '{{ index .Config.Labels "dockfix.e2e.stamp" }}' "$1" 2>/dev/null || true; }

# The apt (and dpkg) configuration the official debian images ship and
# debootstrap does not write. It matters to what the harness proves:
# docker-clean deletes every downloaded .deb after each dpkg run and each
# `apt-get update`, and turns off apt's binary caches, so a cache mount on
# /var/cache/apt keeps nothing on an official image unless the Dockerfile
# removes docker-clean first. That is why Docker's cache-mount recipe for apt
# does `rm -f /etc/apt/apt.conf.d/docker-clean` and sets
# Keep-Downloaded-Packages. Without docker-clean here, a cache-mount rewrite
# that left the recipe out would look fine on these images and not on the
# official ones, and the layers of an original Dockerfile would keep .deb
# files that the official images never keep.
apt_config() {
    local conf=$1/etc/apt/apt.conf.d
    local clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
    cat >"$conf/docker-clean" <<EOF
// As on the official images: no downloaded packages, and no binary package
// caches, stay in a layer. The same deletion runs after every dpkg run and
// after every package list update.
DPkg::Post-Invoke { $clean };
APT::Update::Post-Invoke { $clean };
// Do not write pkgcache.bin or srcpkgcache.bin at all.
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    cat >"$conf/docker-gzip-indexes" <<'EOF'
// Keep the package lists compressed on disk rather than unpacked, so a layer
// that keeps them holds a fraction of their size.
Acquire::GzipIndexes "true";
EOF
    cat >"$conf/docker-no-languages" <<'EOF'
// Download no translated package descriptions.
Acquire::Languages "none";
EOF
    cat >"$conf/docker-autoremove-suggests" <<'EOF'
// Let autoremove take packages that only another package's Suggests keeps.
Apt::AutoRemove::SuggestsImportant "false";
EOF
    chmod 0644 "$conf"/docker-*
    # And, as there, dpkg does not sync each file it unpacks: a build that
    # fails halfway is thrown away anyway. Installs take less time, and
    # less varied time, so rebuild timings compare better.
    echo force-unsafe-io >"$1/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
}

# debootstrap a suite once and import it under one or more names.
base_images() {
    local suite=$1
    shift
    local wanted=()
    local stamp="base=$BASE_RECIPE trust=$TRUST"
    for name in "$@"; do
        [ "$(stamp_of "$name")" = "$stamp" ] || wanted+=("$name")
    done
    [ ${#wanted[@]} -gt 0 ] || return 0
    log "debootstrap $suite for ${wanted[*]}"
    local rootfs
    rootfs="$(mktemp -d)"
    debootstrap --variant=minbase "$suite" "$rootfs" "$MIRROR" >"$E2E_HOME/debootstrap-$suite.log" 2>&1 \
        || { tail -20 "$E2E_HOME/debootstrap-$suite.log" >&2; die "debootstrap $suite failed"; }
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$suite" "$MIRROR" "$suite" >"$rootfs/etc/apt/sources.list"
    # As on the official images: no package lists, binary caches or the
    # packages debootstrap downloaded.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/archives/partial/*
    apt_config "$rootfs"
    if [ "$TRUST" = 1 ]; then
        mkdir -p "$rootfs/usr/local/share/ca-certificates"
        cp "$HOST_CA" "$rootfs/usr/local/share/ca-certificates/dockfix-e2e-host.crt"
    fi
    for name in "${wanted[@]}"; do
        if [[ $name == *-slim ]]; then
            # As the official slim images: no documentation, and dpkg keeps none.
            rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
            printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
                >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
        fi
        tar -C "$rootfs" -c . | boot import \
            --change "LABEL dockfix.e2e.stamp=\"$stamp\"" \
            --change 'CMD ["bash"]' - "$name" >/dev/null
    done
    rm -rf "$rootfs"
}

# An image built from e2e/images/<file> in the bootstrap engine.
built_image() {
    local name=$1 file=$2
    local stamp="base=$BASE_RECIPE trust=$TRUST file=$(sha256sum <"$HERE/images/$file" | cut -c1-16)"
    [ "$(stamp_of "$name")" = "$stamp" ] && return 0
    log "building $name"
    boot build -q -t "$name" -f "$HERE/images/$file" --label "dockfix.e2e.stamp=$stamp" "$HERE/images" >/dev/null
}

start_engine() {
    # A running engine is reused only if it runs the current engine image.
    local want running
    want="$(boot image inspect -f '{{ .Id }}' "$ENGINE_IMAGE")"
    running="$(boot inspect -f '{{ if .State.Running }}{{ .Image }}{{ end }}' "$ENGINE" 2>/dev/null || true)"
    if [ "$running" != "$want" ]; then
        boot rm -f "$ENGINE" >/dev/null 2>&1 || true
        log "starting the modern engine"
        mkdir -p "$E2E_HOME/engine" "$E2E_HOME/work"
        # --privileged fails on these machines (no CAP_SYS_RESOURCE); this set works.
        boot run -d --name "$ENGINE" \
            --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-add MKNOD \
            --cap-add NET_RAW --cap-add SYS_MODULE --cap-add AUDIT_CONTROL \
            --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
            --security-opt systempaths=unconfined --cgroupns=host \
            -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
            -v "$E2E_HOME/engine:/var/lib/docker" \
            -v "$E2E_HOME/work:$E2E_HOME/work" \
            "$ENGINE_IMAGE" dockerd --host unix:///var/run/docker.sock >/dev/null
    fi
    for _ in $(seq 60); do
        boot exec "$ENGINE" docker info >/dev/null 2>&1 && return
        sleep 1
    done
    boot logs --tail 20 "$ENGINE" >&2 || true
    die "the modern engine did not start"
}

# Copies an image into the modern engine unless it already has that image.
load_image() {
    local name=$1 id
    id="$(boot image inspect -f '{{ .Id }}' "$name")"
    [ "$(boot exec "$ENGINE" docker image inspect -f '{{ .Id }}' "$name" 2>/dev/null)" = "$id" ] && return 0
    log "loading $name into the modern engine"
    boot save "$name" | boot exec -i "$ENGINE" docker load >/dev/null
}

up() {
    TRUST=0
    for arg in "$@"; do
        case $arg in
            --trust-host-ca) TRUST=1 ;;
            *) die "unknown option $arg" ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "the engines need root"
    ensure_packages
    start_bootstrap
    base_images bookworm debian:bookworm debian:bookworm-slim
    base_images trixie debian:trixie
    built_image "$ENGINE_IMAGE" engine.Dockerfile
    built_image python:3.11-slim python.Dockerfile
    built_image node:18 node.Dockerfile
    built_image golang:1.19 golang.Dockerfile
    built_image rust:1.85-trixie rust.Dockerfile
    start_engine
    for image in debian:bookworm debian:bookworm-slim debian:trixie python:3.11-slim node:18 golang:1.19 rust:1.85-trixie; do
        load_image "$image"
    done
    log "ready: $(boot exec "$ENGINE" docker version -f 'Docker {{ .Server.Version }}')"
}

down() {
    if boot info >/dev/null 2>&1; then
        boot rm -f "$ENGINE" >/dev/null 2>&1 || true
    fi
    local pid
    pid="$(cat "$BOOT_PID" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        log "engines stopped"
    fi
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    docker) shift; boot exec -i "$ENGINE" docker "$@" ;;
    *) echo "usage: $0 up [--trust-host-ca] | down | docker ARGS..." >&2; exit 2 ;;
esac
