#!/usr/bin/env bash
# Build Lumen's user-code image (deploy/Dockerfile) with Docker, run it, and write the image's SBOM.
#
#   deploy/build_image.sh [--tag NAME:TAG] [--base IMAGE] [--out DIR] [--no-pin] [--no-smoke]
#
# 1. Base image: --base IMAGE, else python:3.11-slim-bookworm when it is present or can be pulled, else a
#    Debian bookworm base made here with debootstrap (minbase + python3.11 with venv and ca-certificates)
#    and `docker import`ed as lumen-base:bookworm-py3.11 (needs root and Debian's debootstrap; the mirror is
#    $LUMEN_DEBIAN_MIRROR, default http://deb.debian.org/debian).
# 2. Wheelhouse: $LUMEN_PYTHON (default python3; must be Python 3.11 like the base) runs `pip wheel` for this
#    checkout, dagster-k8s and cyclonedx-bom, pinned to the versions that interpreter has installed (the ones
#    your tests ran with; --no-pin resolves the newest allowed by pyproject.toml instead). The docker build
#    then installs from the wheelhouse with --no-index: it needs no network of its own.
# 3. docker build, then (unless --no-smoke) `lumen --help` and `lumen demo` (writes the demo workspace and
#    materialises every asset on it) inside the image, as its non-root user, and the image's own command
#    (`dagster api grpc`, the code server) until `dagster api grpc-health-check` passes.
# 4. OUT (default ./image-out): sbom.cdx.json (the SBOM cyclonedx-py made in the image) and
#    lumen-user-code-<tag>.cdx.json, the same SBOM whose metadata.component is the image itself, named by its
#    image ID (the sha256 of the image config, which `docker inspect` shows on any machine that pulled it).
#    `lumen deploy sbom --workspace W --from OUT/lumen-user-code-<tag>.cdx.json --version <tag>` puts it in a
#    workspace; the next `attestations` run signs and logs it, so `lumen verify` checks the image's digest
#    like any other artefact's. Last line: `image: <tag> <id> <MB> MB, build <s> s, demo <s> s`.
#
# Needs a running Docker daemon. Without one (a root shell on Debian):
#   apt-get install -y docker.io && dockerd --iptables=false --bridge=none &   # builds use --network none
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
tag="lumen-user-code:$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml" | head -1)"
base=""
out="$PWD/image-out"
pin=1
smoke=1
python="${LUMEN_PYTHON:-python3}"
default_base="python:3.11-slim-bookworm"
local_base="lumen-base:bookworm-py3.11"
mirror="${LUMEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-pin) pin=0; shift ;;
    --no-smoke) smoke=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "build_image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "[build_image] $*"; }
die() { echo "build_image: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

docker info >/dev/null 2>&1 || die "no Docker daemon answers (docker info failed); start dockerd first (see the header of $0)"
py_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$py_version" = "3.11" ] || die "$python is Python $py_version; the wheelhouse must be built by Python 3.11 like the image's (set LUMEN_PYTHON)"

# 1. the base image
if [ -z "$base" ]; then
  if docker image inspect "$default_base" >/dev/null 2>&1; then
    base="$default_base"
  else
    pull_err="$(mktemp)"
    if timeout 90 docker pull -q "$default_base" >/dev/null 2>"$pull_err"; then
      base="$default_base"
    else
      say "cannot pull $default_base: $(tail -1 "$pull_err")"
      base="$local_base"
    fi
    rm -f "$pull_err"
  fi
fi
if [ "$base" = "$local_base" ] && ! docker image inspect "$local_base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || die "$default_base cannot be pulled and debootstrap is missing (apt-get install debootstrap)"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root to make $local_base"
  rootfs="$(mktemp -d /tmp/lumen-rootfs.XXXXXX)"
  say "making $local_base with debootstrap from $mirror"
  t0=$(now)
  debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils,ca-certificates bookworm "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; die "debootstrap failed (log: $rootfs.log)"; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["python3.11"]' - "$local_base" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  say "$local_base made in $(secs "$t0" "$(now)") s"
fi
say "base image $base"

# 2. the build context: the files the Dockerfile copies and a wheelhouse
ctx="$(mktemp -d /tmp/lumen-image-ctx.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/workspace.yaml" "$repo/config" "$repo/lumen_assets" \
  "$repo/resources" "$repo/sensors" "$ctx/"
find "$ctx" -name '__pycache__' -prune -exec rm -rf {} +
constraints=()
if [ "$pin" -eq 1 ]; then
  "$python" -m pip freeze --exclude-editable 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==[^ ;]+$' >"$ctx/pins.txt" || true
  constraints=(-c "$ctx/pins.txt")
fi
say "filling the wheelhouse with $python ($py_version)"
t0=$(now)
# pip wheel builds this checkout from a copy, so build/ and *.egg-info never land in the repo
"$python" -m pip wheel -q --disable-pip-version-check -w "$ctx/wheels" "${constraints[@]}" \
  "$ctx" "dagster-k8s==0.29.*" "cyclonedx-bom==7.*"
rm -rf "$ctx/build" "$ctx"/*.egg-info
t_wheels=$(secs "$t0" "$(now)")
say "wheelhouse: $(ls "$ctx/wheels" | wc -l) wheels, $(du -sm "$ctx/wheels" | cut -f1) MB in $t_wheels s"

# 3. build and run
t0=$(now)
docker build --network none -f "$repo/deploy/Dockerfile" --build-arg "BASE_IMAGE=$base" -t "$tag" "$ctx"
t_build=$(secs "$t0" "$(now)")
image_id="$(docker image inspect --format '{{.Id}}' "$tag")"
size_mb=$(( $(docker image inspect --format '{{.Size}}' "$tag") / 1000000 ))
say "built $tag $image_id: $size_mb MB in $t_build s"

t_demo="-"
if [ "$smoke" -eq 1 ]; then
  docker run --rm --network none "$tag" lumen --help >/dev/null
  say "lumen --help runs in the image"
  t0=$(now)
  docker run --rm --network none "$tag" lumen demo --workspace /tmp/lumen-demo
  t_demo=$(secs "$t0" "$(now)")
  say "lumen demo ran in the image in $t_demo s"
  # the image's own command: the gRPC code server the Helm chart's user deployments run
  server="$(docker run -d --network none "$tag")"
  t0=$(now)
  served=0
  for _ in $(seq 1 60); do
    if docker exec "$server" dagster api grpc-health-check -p 3030 >/dev/null 2>&1; then served=1; break; fi
    sleep 3
  done
  t_grpc=$(secs "$t0" "$(now)")
  [ "$served" -eq 1 ] || { docker logs "$server" 2>&1 | tail -20 >&2; docker rm -f "$server" >/dev/null
                          die "the image's command (dagster api grpc) did not pass its health check in $t_grpc s"; }
  docker rm -f "$server" >/dev/null
  say "the image's command serves the code location: dagster api grpc-health-check passed after $t_grpc s"
fi

# 4. the image's SBOM, and the same SBOM naming the image by its ID
mkdir -p "$out"
container="$(docker create --network none "$tag")"
docker cp "$container:/opt/lumen/sbom.cdx.json" "$out/sbom.cdx.json" >/dev/null
docker rm "$container" >/dev/null
name="${tag%:*}"; version="${tag##*:}"
image_sbom="$out/$(basename "$name")-$version.cdx.json"
"$python" "$repo/deploy/image_sbom.py" "$out/sbom.cdx.json" --image "$tag" --image-id "$image_id" -o "$image_sbom"
say "SBOM: $out/sbom.cdx.json; the image's: $image_sbom (lumen deploy sbom --workspace W --from $image_sbom --version $version)"
echo "image: $tag $image_id $size_mb MB, build $t_build s, demo $t_demo s"
