#!/usr/bin/env bash
# make images: build every function's image offline and record what was built.
#   1. start go-containerregistry's registry (crane registry serve) on a free localhost port, in
#      memory, unless IMAGES_REGISTRY names one already running;
#   2. assemble the base image from this machine's CA certificates with a non-root user and no
#      shell (cmd/ordersaga-base), one image per platform of ko.yaml, and push it;
#   3. ko resolve config/ and triggers/ on that base, pinned by digest (KO_DEFAULTBASEIMAGE, so
#      ko.yaml's own defaultBaseImage is left as it is), with an SPDX SBOM per image;
#   4. stop the registry it started.
# IMAGES_PLATFORMS (os/arch,...) builds fewer platforms than ko.yaml's defaultPlatforms.
# Writes to IMAGES_OUT (.data/images): release.yaml (every image by digest), image-refs.txt,
# base.txt (the base by digest) and sbom/ (ko's SBOM files).
# KO and CRANE are the tools' paths (the Makefile installs pinned versions into bin/tools).
set -euo pipefail
cd "$(dirname "$0")/.."
KO=${KO:-ko}
CRANE=${CRANE:-crane}
out=${IMAGES_OUT:-.data/images}
registry=${IMAGES_REGISTRY:-}
export KO_CONFIG_PATH=${KO_CONFIG_PATH:-ko.yaml}

# ko.yaml's defaultPlatforms, as os/arch,os/arch, unless IMAGES_PLATFORMS narrows them: the base
# must offer every platform ko builds, and ko builds exactly these (--platform).
platforms=${IMAGES_PLATFORMS:-$(sed -n '/^defaultPlatforms:/,/^[^ ]/s/^ *- *//p' "$KO_CONFIG_PATH" | paste -sd, -)}
[ -n "$platforms" ] || { echo "images: no defaultPlatforms in $KO_CONFIG_PATH" >&2; exit 1; }

rm -rf "$out/sbom" "$out/release.yaml" "$out/image-refs.txt" "$out/base.txt"
mkdir -p "$out/sbom"

if [ -z "$registry" ]; then
  log="$out/registry.log"
  "$CRANE" registry serve --address 127.0.0.1:0 >"$log" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
  port=
  for _ in $(seq 300); do
    port=$(sed -n 's/.*serving on port \([0-9][0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "images: the registry did not start:" >&2; cat "$log" >&2; exit 1; }
  registry=127.0.0.1:$port
fi

start=$SECONDS
base=$(go run ./cmd/ordersaga-base -platforms "$platforms" "$registry/ordersaga/base:latest")
echo "$base" >"$out/base.txt"
echo "images: base $base ($platforms)" >&2

KO_DOCKER_REPO="$registry/ordersaga" KO_DEFAULTBASEIMAGE="$base" \
  "$KO" resolve --push=true -B --platform "$platforms" --sbom=spdx --sbom-dir "$out/sbom" --image-refs "$out/image-refs.txt" \
  -f config/ -f triggers/ >"$out/release.yaml.partial"
mv "$out/release.yaml.partial" "$out/release.yaml"
echo "images: $(grep -c "image:" "$out/release.yaml") images ($platforms) in $((SECONDS - start)) s; release $out/release.yaml, SBOMs $out/sbom" >&2
