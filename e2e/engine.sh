#!/usr/bin/env bash
# The engines dockfix's end-to-end harness builds with.
#
#   e2e/engine.sh up [--trust-host-ca]   install what is missing, start both engines and the registry, make the images
#   e2e/engine.sh down                   stop what `up` started
#   e2e/engine.sh docker ARGS...         run the current Docker CLI inside the modern engine
#   e2e/engine.sh registry               print the registry's address (HOST:PORT)
#
# A bootstrap engine (Debian's docker.io, Docker 20.10) imports Debian root
# filesystems made with debootstrap, given the apt configuration of the
# official images, as debian:bookworm, debian:bookworm-slim, debian:trixie
# and debian:trixie-slim, builds toolchain images tagged with the official names
# (python:3.11-slim, node:18, node:18-slim, golang:1.19, rust:1.85-trixie,
# maven:3.8-eclipse-temurin-17, eclipse-temurin:17-jre) and runs a current
# engine (Docker 26 / BuildKit from Debian trixie) as a container; fixture
# builds run there.
# Nothing is pulled from a public registry. Images and the modern engine's
# storage live in $DOCKFIX_E2E_HOME (default ~/.cache/dockfix-e2e) and are
# reused.
#
# A registry (Debian's docker-registry) stands in for Docker Hub: the base
# images are pushed to it under their Docker Hub names, with the version
# tags Docker Hub gives them, and the modern engine uses it as its Docker Hub
# mirror, so a Dockerfile pinned to a digest (`FROM debian:12@sha256:...`)
# is pulled from it as from Docker Hub. It listens on the bootstrap engine's
# bridge address, which both the host (dockfix asks it for digests) and the
# modern engine's container reach, on a port the kernel picks each time, and
# keeps its storage in a temporary directory that `down` removes.
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
REGISTRY_PID="$E2E_HOME/registry.pid"
REGISTRY_ADDR="$E2E_HOME/registry.addr"
REGISTRY_STORAGE="$E2E_HOME/registry.storage"
REGISTRY_LOG="$E2E_HOME/registry.log"
# The registry address the images were last pushed to, in full.
REGISTRY_PUSHED="$E2E_HOME/registry.pushed"
ENGINE=dockfix-e2e-engine
ENGINE_IMAGE=dockfix-e2e/engine:trixie
HOST_CA=/etc/ssl/certs/ca-certificates.crt
# Bump when the way base images are made changes, to rebuild them.
BASE_RECIPE=5
boot() { /usr/bin/docker -H "unix://$BOOT_SOCK" "$@"; }
log() { printf '[e2e +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The Debian mirror this machine's apt uses (not its security archive).
mirror() {
    local uri
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$uri" ] || die "no Debian mirror in /etc/apt/sources.list or sources.list.d"
    echo "$uri"
}

ensure_packages() {
    local missing=()
    for pkg in docker.io debootstrap docker-registry curl; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        # Another apt-get (the pinning tests' install) may hold the locks.
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
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

# What the images trust besides their own CAs, for their stamp: with
# --trust-host-ca, the host bundle's checksum, so images made from an
# older (or broken) bundle are made again.
trust_stamp() {
    if [ "$TRUST" = 1 ]; then
        sha256sum <"$HOST_CA" | cut -c1-16
    else
        echo 0
    fi
}

# debootstrap a suite once and import it under one or more names.
base_images() {
    local suite=$1
    shift
    local wanted=()
    local stamp="base=$BASE_RECIPE trust=$(trust_stamp)"
    for name in "$@"; do
        [ "$(stamp_of "$name")" = "$stamp" ] || wanted+=("$name")
    done
    [ ${#wanted[@]} -gt 0 ] || return 0
    log "debootstrap $suite for ${wanted[*]}"
    local rootfs mirror
    rootfs="$(mktemp -d)"
    mirror="$(mirror)"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$E2E_HOME/debootstrap-$suite.log" 2>&1 \
        || { tail -20 "$E2E_HOME/debootstrap-$suite.log" >&2; die "debootstrap $suite failed"; }
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$suite" "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"
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
    local stamp="base=$BASE_RECIPE trust=$(trust_stamp) file=$(sha256sum <"$HERE/images/$file" | cut -c1-16)"
    [ "$(stamp_of "$name")" = "$stamp" ] && return 0
    log "building $name"
    local build_log="$E2E_HOME/build-${file%.Dockerfile}.log"
    boot build -t "$name" -f "$HERE/images/$file" --label "dockfix.e2e.stamp=$stamp" "$HERE/images" \
        >"$build_log" 2>&1 || { tail -20 "$build_log" >&2; die "building $name failed"; }
    log "built $name"
}

# Runs each command (a function and its arguments, one string each) in the
# background and waits for all of them: making the images waits on the
# package mirror more than on the cores, so they are made side by side.
# Fails when any of them failed, after all have ended.
side_by_side() {
    local pids=() pid status=0 command
    for command in "$@"; do
        # shellcheck disable=SC2086 # one function name and its arguments
        $command &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
    return "$status"
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

# Copies the images the modern engine does not have (as the bootstrap
# engine has them) into it, in one archive: layers the images share (the
# Debian bases) are copied once.
load_images() {
    local name id missing=()
    for name in "$@"; do
        id="$(boot image inspect -f '{{ .Id }}' "$name")"
        [ "$(boot exec "$ENGINE" docker image inspect -f '{{ .Id }}' "$name" 2>/dev/null)" = "$id" ] \
            || missing+=("$name")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    log "loading ${missing[*]} into the modern engine"
    boot save "${missing[@]}" | boot exec -i "$ENGINE" docker load >/dev/null
    # The registry's copy is now stale.
    rm -f "$REGISTRY_PUSHED"
}

# Whether the registry an earlier `up` started still runs and answers.
registry_up() {
    local pid
    pid="$(cat "$REGISTRY_PID" 2>/dev/null)" || return 1
    kill -0 "$pid" 2>/dev/null && [ -s "$REGISTRY_ADDR" ] \
        && curl -fsS -o /dev/null --noproxy '*' "http://$(cat "$REGISTRY_ADDR")/v2/"
}

# The bootstrap engine's bridge address. Docker 20.10 leaves the gateway out
# of the bridge network's configuration when it has just created the bridge
# (a fresh machine's first start); the bridge interface has it then.
bridge_address() {
    local gateway dev
    gateway="$(boot network inspect bridge -f '{{ range .IPAM.Config }}{{ .Gateway }}{{ end }}')"
    if [ -z "$gateway" ]; then
        dev="$(boot network inspect bridge -f '{{ index .Options "com.docker.network.bridge.name" }}')"
        gateway="$(ip -4 -o addr show dev "${dev:-docker0}" | awk '{ sub("/.*", "", $4); print $4; exit }')"
    fi
    echo "$gateway"
}

# The registry that stands in for Docker Hub. It listens on the bootstrap
# engine's bridge address: the modern engine's container reaches the host
# there (not on the host's loopback, which is not the container's), and so
# does dockfix on the host, whose address it is. Port 0 lets the kernel pick
# a free port as the registry binds it, so no other process can take it in
# between; the registry logs the address it got.
start_registry() {
    registry_up && return 0
    stop_registry
    local gateway storage pid addr=''
    gateway="$(bridge_address)"
    [ -n "$gateway" ] || die "the bootstrap engine's bridge has no gateway address"
    storage="$(mktemp -d -t dockfix-e2e-registry.XXXXXX)"
    echo "$storage" >"$REGISTRY_STORAGE"
    cat >"$storage/config.yml" <<EOF
version: 0.1
log:
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $storage/data
http:
  addr: $gateway:0
EOF
    docker-registry serve "$storage/config.yml" >"$REGISTRY_LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$REGISTRY_PID"
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        addr="$(sed -n 's/.*msg="listening on \([0-9.]*:[0-9]*\)".*/\1/p' "$REGISTRY_LOG" | head -1)"
        if [ -n "$addr" ] && curl -fsS -o /dev/null --noproxy '*' "http://$addr/v2/"; then
            echo "$addr" >"$REGISTRY_ADDR"
            log "registry at http://$addr"
            return 0
        fi
        sleep 1
    done
    tail -20 "$REGISTRY_LOG" >&2
    die "the registry did not start (log: $REGISTRY_LOG)"
}

stop_registry() {
    local pid storage
    pid="$(cat "$REGISTRY_PID" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
        for _ in $(seq 10); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        log "registry stopped"
    fi
    storage="$(cat "$REGISTRY_STORAGE" 2>/dev/null || true)"
    # Only the directory start_registry made.
    if [[ $storage == "${TMPDIR:-/tmp}"/dockfix-e2e-registry.* ]]; then
        rm -rf "$storage"
    fi
    rm -f "$REGISTRY_PID" "$REGISTRY_ADDR" "$REGISTRY_STORAGE" "$REGISTRY_PUSHED"
}

# The modern engine pulls Docker Hub images through the registry, as a
# machine behind a pull-through mirror does. The registry serves plain HTTP
# on an address that is not loopback, so it is also an insecure registry:
# BuildKit takes only the host from registry-mirrors and speaks HTTP to it
# only when insecure-registries names it. Both settings are reloaded on
# SIGHUP, so a running engine is reconfigured, not restarted.
mirror_engine() {
    local addr want
    addr="$(cat "$REGISTRY_ADDR")"
    want="[\"http://$addr/\"]"
    printf '{\n  "registry-mirrors": ["http://%s"],\n  "insecure-registries": ["%s"]\n}\n' "$addr" "$addr" \
        | boot exec -i "$ENGINE" sh -c 'mkdir -p /etc/docker && cat >/etc/docker/daemon.json'
    boot kill -s HUP "$ENGINE" >/dev/null
    for _ in $(seq 30); do
        [ "$(boot exec "$ENGINE" docker info -f '{{ json .RegistryConfig.Mirrors }}' 2>/dev/null)" = "$want" ] && return 0
        sleep 1
    done
    boot logs --tail 20 "$ENGINE" >&2 || true
    die "the modern engine did not take the registry as its mirror"
}

# An image's full version, as the image reports it: the precision Docker
# Hub's most specific tags give.
image_version() {
    local cmd
    case $1 in
        debian:*) cmd='cat /etc/debian_version' ;;
        python:*) cmd='python3 -c "import platform; print(platform.python_version())"' ;;
        node:*) cmd='node --version' ;;
        golang:*) cmd='go version' ;;
        rust:*) cmd='rustc --version' ;;
        *) return 0 ;;
    esac
    boot exec "$ENGINE" docker run --rm --entrypoint sh "$1" -c "$cmd" | grep -oE '[0-9]+(\.[0-9]+)+' | head -1
}

# The tags Docker Hub gives an image besides its own: each precision of its
# version with the tag's variant suffix (python:3.11-slim is also
# python:3-slim and python:3.11.2-slim; debian:bookworm-slim is also
# debian:12-slim and debian:12.5-slim), and `latest` for the newest Debian.
hub_tags() {
    local image=$1 tag=${1#*:} version suffix prefix='' part
    version="$(image_version "$image")"
    [ -n "$version" ] || return 0
    if [[ $tag =~ ^[0-9.]+(.*)$ ]]; then
        suffix=${BASH_REMATCH[1]}
    elif [[ $tag == *-* ]]; then
        suffix=-${tag#*-}
    else
        suffix=''
    fi
    for part in ${version//./ }; do
        prefix=${prefix:+$prefix.}$part
        [ "$prefix$suffix" = "$tag" ] || echo "$prefix$suffix"
    done
    [ "$image" = debian:trixie ] && echo latest
    return 0
}

# curl to the registry, never through a proxy.
registry_curl() { curl -fsS --noproxy '*' "$@"; }

# Uploads a blob of an OCI layout to a repository unless it has it already.
put_blob() {
    local url=$1 repo=$2 file=$3 digest location
    digest=sha256:${file##*/}
    registry_curl -o /dev/null -I "$url/v2/$repo/blobs/$digest" 2>/dev/null && return 0
    location="$(registry_curl -X POST -D - -o /dev/null "$url/v2/$repo/blobs/uploads/" \
        | tr -d '\r' | sed -n 's/^[Ll]ocation: *//p')"
    [[ $location == /* ]] && location=$url$location
    registry_curl -o /dev/null -T "$file" -H 'Content-Type: application/octet-stream' \
        "$location&digest=$digest"
}

# Puts the base images into the registry under their Docker Hub names
# (debian:bookworm as library/debian:bookworm, and as library/debian:12 ...).
# Each tag is an image index holding the image's manifest for its platform,
# as Docker Hub serves official images: the digest a pin must carry is the
# index's, which every platform resolves. The images come from one `docker
# save` (an OCI layout whose layers are uncompressed, so nothing is
# compressed to push them), written where the engine's container and the
# host share a directory, and go up with the registry API. The engine's local
# images keep no reference to the registry, so a pinned build has to ask it.
push_images() {
    local url image repo tag layout manifest size platform index digest count=0
    url="http://$(cat "$REGISTRY_ADDR")"
    layout="$(mktemp -d -p "$E2E_HOME/work")"
    boot exec "$ENGINE" sh -c 'docker save "$@" | tar -x -C "$0"' "$layout" "$@"
    for image in "$@"; do
        repo=library/${image%%:*}
        manifest="$(grep -o "\"digest\":\"sha256:[0-9a-f]*\",\"size\":[0-9]*,\"annotations\":{\"io.containerd.image.name\":\"docker.io/$repo:${image#*:}\"" \
            "$layout/index.json" | cut -d'"' -f4)"
        [ "$(wc -w <<<"$manifest")" = 1 ] || die "docker save: no single manifest for $image"
        for digest in $(grep -o 'sha256:[0-9a-f]\{64\}' "$layout/blobs/sha256/${manifest#sha256:}"); do
            put_blob "$url" "$repo" "$layout/blobs/sha256/${digest#sha256:}"
        done
        registry_curl -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
            --data-binary @"$layout/blobs/sha256/${manifest#sha256:}" "$url/v2/$repo/manifests/$manifest"
        size="$(stat -c %s "$layout/blobs/sha256/${manifest#sha256:}")"
        platform="$(boot exec "$ENGINE" docker image inspect -f '"architecture":"{{ .Architecture }}","os":"{{ .Os }}"' "$image")"
        index="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$manifest\",\"size\":$size,\"platform\":{$platform}}]}"
        for tag in "${image#*:}" $(hub_tags "$image"); do
            registry_curl -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
                --data-binary "$index" "$url/v2/$repo/manifests/$tag"
            count=$((count + 1))
        done
    done
    rm -rf "$layout"
    cat "$REGISTRY_ADDR" >"$REGISTRY_PUSHED"
    log "registry: $count tags of $# images"
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
    if [ "$TRUST" = 1 ] && [ ! -s "$HOST_CA" ]; then
        die "$HOST_CA is empty: there is no host CA to trust"
    fi
    ensure_packages
    start_bootstrap
    side_by_side "base_images bookworm debian:bookworm debian:bookworm-slim" \
        "base_images trixie debian:trixie debian:trixie-slim" || die "making the base images failed"
    side_by_side "built_image $ENGINE_IMAGE engine.Dockerfile" \
        "built_image python:3.11-slim python.Dockerfile" \
        "built_image node:18 node.Dockerfile" \
        "built_image golang:1.19 golang.Dockerfile" \
        "built_image rust:1.85-trixie rust.Dockerfile" \
        "built_image maven:3.8-eclipse-temurin-17 maven.Dockerfile" \
        "built_image eclipse-temurin:17-jre temurin-jre.Dockerfile" || die "building the images failed"
    # Its npm comes from node:18's.
    built_image node:18-slim node-slim.Dockerfile
    start_engine
    local images=(debian:bookworm debian:bookworm-slim debian:trixie debian:trixie-slim python:3.11-slim node:18 node:18-slim golang:1.19 rust:1.85-trixie maven:3.8-eclipse-temurin-17 eclipse-temurin:17-jre)
    load_images "${images[@]}"
    start_registry
    mirror_engine
    # A second `up` (CI starts the engines early, the harness asks again)
    # finds every image in the registry already, unless one was reloaded.
    if ! cmp -s "$REGISTRY_ADDR" "$REGISTRY_PUSHED"; then
        push_images "${images[@]}"
    fi
    log "ready: $(boot exec "$ENGINE" docker version -f 'Docker {{ .Server.Version }}')"
}

down() {
    stop_registry
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
    registry) registry_up || die "the registry is not running"; cat "$REGISTRY_ADDR" ;;
    *) echo "usage: $0 up [--trust-host-ca] | down | docker ARGS... | registry" >&2; exit 2 ;;
esac
