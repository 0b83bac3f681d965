#!/usr/bin/env bash
# DF503's TypeScript split against a toolchain image built as the official
# node:18 is: the e2e harness's node:18 stand-in is Debian's Node.js on
# debian:bookworm (449 MB), while the official image sits on
# buildpack-deps:bookworm, with compilers, -dev libraries and version
# control tools, so the harness's ratio understates what the split saves.
# This builds bench/images/node-buildpack.Dockerfile in the e2e engine,
# builds the node-typescript fixture on it before and after `dockfix
# --write --unsafe --select DF503` (the runtime stays node:18-slim), and
# prints the smoke outputs, the sizes and the package counts.
#
#   e2e/engine.sh up [--trust-host-ca]; bench/split_on_buildpack.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
E2E_HOME="${DOCKFIX_E2E_HOME:-$HOME/.cache/dockfix-e2e}"
DOCKFIX="${DOCKFIX:-$ROOT/target/release/dockfix}"
TOOLCHAIN=dockfix-bench/node:18-buildpack
engine() { "$ROOT/e2e/engine.sh" docker "$@"; }

[ -x "$DOCKFIX" ] || (cd "$ROOT" && cargo build --release --quiet)
work="$(mktemp -d -p "$E2E_HOME/work")"
trap 'rm -rf "$work"' EXIT

mkdir "$work/image"
cp "$ROOT/bench/images/node-buildpack.Dockerfile" "$work/image/Dockerfile"
engine build -q -t "$TOOLCHAIN" "$work/image" >/dev/null

# The rewrite is dockfix's on the fixture as it is (FROM node:18); then the
# toolchain FROM of both sides, and only it, names the buildpack image.
for side in before after; do
    cp -a "$ROOT/fixtures/e2e/node-typescript" "$work/$side"
    rm "$work/$side/e2e.toml"
done
"$DOCKFIX" --write --unsafe --select DF503 "$work/after/Dockerfile" >/dev/null 2>&1 || true
grep -q '^FROM node:18-slim' "$work/after/Dockerfile" || {
    echo "dockfix did not split node-typescript" >&2
    exit 1
}
sed -i -E "s#^FROM node:18( |\$)#FROM $TOOLCHAIN\\1#" "$work/before/Dockerfile" "$work/after/Dockerfile"

smoke=(node dist/main.js --version)
for side in before after; do
    engine build -q -t "dockfix-bench/split:$side" "$work/$side" >/dev/null
    engine run --rm "dockfix-bench/split:$side" "${smoke[@]}" >"$work/$side.smoke"
    size=$(engine image inspect -f '{{ .Size }}' "dockfix-bench/split:$side")
    packages=$(engine run --rm --entrypoint sh "dockfix-bench/split:$side" \
        -c 'dpkg-query -W -f "\${Package}\n" | wc -l')
    printf '%s: %s bytes, %s packages, smoke: %s\n' "$side" "$size" "$packages" "$(tr '\n' ' ' <"$work/$side.smoke")"
    eval "size_$side=$size"
done
cmp -s "$work/before.smoke" "$work/after.smoke" || {
    echo "the smoke outputs differ" >&2
    exit 1
}
# shellcheck disable=SC2154 # set by the eval above
awk -v b="$size_before" -v a="$size_after" 'BEGIN { printf "smoke equal; %.1f MB -> %.1f MB, %.1fx smaller\n", b / 1e6, a / 1e6, b / a }'
