#!/usr/bin/env bash
# Make stand-ins for the base images the generated Dockerfiles use, offline, from Debian packages and PyPI wheels.
#
# They exist ONLY because this project's CI machines cannot reach a container registry. The docker driver uses an
# image present in the daemon for FROM / --mount=from= without pulling, so a local image under the real name lets
# generated Dockerfiles build here. On a normal machine none of this runs and the real images are pulled.
#
# Every stand-in is multi-platform (linux/amd64 + linux/arm64; arm64 is made under qemu) and carries the label
# org.cog-ci.content: a key of its recipe and inputs. An image whose tags all carry the current key is not rebuilt;
# root filesystems and wheels are cached under $COG_CI_STATE/base, so a second run takes about a second.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

UV_VERSION=0.13.8
SUITE=bookworm # Debian 12: its python3 is 3.11, the version python:3.11-slim has
PY_PACKAGES=(python3 python3-venv python3-pip ca-certificates)
ARCHES=(amd64 arm64)
CONTENT_LABEL=org.cog-ci.content

# The stand-ins, in one place:  name | recipe (a make_context_* function) | image references (@FILE: one per line
# in scripts/FILE, # comments allowed) | what the org.cog-ci.stand-in label says.
STANDINS=(
  "python|python_rootfs|python:3.11-slim|stand-in for python:3.11-slim: Debian $SUITE + Python 3.11 from Debian packages"
  "cuda|python_rootfs|@gpu-base-images.txt|stand-in for a CUDA base image NAME only: Debian $SUITE + Python 3.11, no CUDA"
  "uv|uv_binaries|ghcr.io/astral-sh/uv:$UV_VERSION|stand-in for ghcr.io/astral-sh/uv:$UV_VERSION: /uv and /uvx from the PyPI wheels"
)

base="$COG_CI_STATE/base"
platforms=$(printf 'linux/%s,' "${ARCHES[@]}")
platforms=${platforms%,}

sha() { sha256sum | cut -c1-16; }

# ---- Python 3.11 root filesystems (debootstrap) -----------------------------------------------------------
# Shape the Debian rootfs like the official image: python/python3/python3.11/pip/pip3 in /usr/local/bin, pip may
# install into the system environment (the official image has no PEP 668 marker), no apt lists or .debs.
customize_rootfs() {
  local r=$1
  ln -sf /usr/bin/python3 "$r/usr/local/bin/python"
  ln -sf /usr/bin/python3 "$r/usr/local/bin/python3"
  ln -sf /usr/bin/python3.11 "$r/usr/local/bin/python3.11"
  ln -sf /usr/bin/pip3 "$r/usr/local/bin/pip"
  ln -sf /usr/bin/pip3 "$r/usr/local/bin/pip3"
  rm -f "$r"/usr/lib/python3.*/EXTERNALLY-MANAGED
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
}

rootfs_key=$(printf '%s\n' "$SUITE" "${PY_PACKAGES[*]}" "$(declare -f customize_rootfs)" | sha)
rootfs_tar() { echo "$base/rootfs/python311-$rootfs_key-$1.tar"; }
rootfs_python_version_file() { echo "$base/rootfs/python311-$rootfs_key.version"; }

build_rootfs() { # arch
  local arch=$1 tar dir
  tar=$(rootfs_tar "$arch")
  dir="$base/work/rootfs-$arch"
  as_root rm -rf "$dir"
  log "debootstrap $SUITE $arch (log: $dir.log)"
  if ! as_root debootstrap --variant=minbase --arch="$arch" --include="$(IFS=,; echo "${PY_PACKAGES[*]}")" \
    "$SUITE" "$dir" "$DEBIAN_MIRROR" >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    die "debootstrap $arch failed (log: $dir.log)"
  fi
  as_root bash -c "$(declare -f customize_rootfs); customize_rootfs '$dir'"
  [[ $arch != "${ARCHES[0]}" ]] || # the Debian version 3.11.2-6+deb12u6 → PYTHON_VERSION=3.11.2, as the official image sets it
    dpkg-query --admindir="$dir/var/lib/dpkg" -W -f='${Version}' python3.11 | sed 's/-.*//' >"$(rootfs_python_version_file)"
  as_root tar --numeric-owner -C "$dir" -cf "$tar.partial" .
  as_root chown "$(id -u):$(id -g)" "$tar.partial"
  mv "$tar.partial" "$tar"
  as_root rm -rf "$dir" "$dir.log"
}

ensure_rootfs() {
  local arch pids=() missing=()
  for arch in "${ARCHES[@]}"; do [[ -s $(rootfs_tar "$arch") ]] || missing+=("$arch"); done
  [[ -s $(rootfs_python_version_file) ]] || missing=("${ARCHES[@]}")
  ((${#missing[@]})) || return 0
  ensure_pkgs debootstrap
  mkdir -p "$base/rootfs" "$base/work"
  find "$base/rootfs" -name 'python311-*' ! -name "python311-${rootfs_key}[-.]*" -delete # older recipes
  # In parallel: mostly downloads and dpkg; arm64 runs its maintainer scripts under qemu.
  for arch in "${missing[@]}"; do
    build_rootfs "$arch" &
    pids+=($!)
  done
  local pid rc=0
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  ((rc == 0)) || die "making the Python root filesystems failed"
}

recipe_inputs_python_rootfs() { echo "$rootfs_key"; }
make_context_python_rootfs() { # context dir
  local ctx=$1 arch
  ensure_rootfs
  for arch in "${ARCHES[@]}"; do ln -f "$(rootfs_tar "$arch")" "$ctx/rootfs-$arch.tar"; done
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
ARG TARGETARCH
ADD rootfs-\${TARGETARCH}.tar /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 PYTHON_VERSION=$(cat "$(rootfs_python_version_file)")
CMD ["python3"]
EOF
}

# ---- uv binaries from the PyPI wheels ----------------------------------------------------------------------
# The musllinux wheels hold statically linked binaries, as the official image has: they also run in a scratch
# image (the x86_64 manylinux wheel's uv needs glibc).
wheel_platform() { case $1 in amd64) echo musllinux_1_1_x86_64 ;; arm64) echo musllinux_1_1_aarch64 ;; esac; }

recipe_inputs_uv_binaries() { echo "uv $UV_VERSION" "$(wheel_platform amd64)" "$(wheel_platform arm64)"; }
make_context_uv_binaries() { # context dir
  local ctx=$1 arch cache py=python3
  for arch in "${ARCHES[@]}"; do
    cache="$base/uv/$UV_VERSION-$(wheel_platform "$arch")"
    if [[ ! -x $cache/bin/uvx ]]; then
      if ! "$py" -m pip --version >/dev/null 2>&1; then
        ensure_pkgs python3-pip
        py=/usr/bin/python3
      fi
      log "downloading the uv $UV_VERSION wheel for $arch"
      rm -rf "${cache:?}"
      "$py" -m pip download -q --no-deps --only-binary=:all: --platform "$(wheel_platform "$arch")" \
        -d "$cache/wheel" "uv==$UV_VERSION"
      "$py" - "$cache/wheel"/*.whl "$cache/bin" <<'EOF'
import os, sys, zipfile
wheel, out = sys.argv[1:]
os.makedirs(out)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.split("/")[-2:-1] == ["scripts"] and name.rsplit("/", 1)[-1] in ("uv", "uvx"):
            path = os.path.join(out, name.rsplit("/", 1)[-1])
            with open(path, "wb") as f:
                f.write(z.read(name))
            os.chmod(path, 0o755)
EOF
      rm -rf "$cache/wheel"
      [[ -x $cache/bin/uv && -x $cache/bin/uvx ]] || die "no uv/uvx binaries in the uv $UV_VERSION $arch wheel"
    fi
    mkdir -p "$ctx/$arch"
    ln -f "$cache/bin/uv" "$cache/bin/uvx" "$ctx/$arch/"
  done
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
ARG TARGETARCH
COPY ${TARGETARCH}/uv ${TARGETARCH}/uvx /
ENTRYPOINT ["/uv"]
EOF
}

# ---- build ------------------------------------------------------------------------------------------------
image_refs() { # references field
  if [[ $1 == @* ]]; then
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$here/${1#@}" | grep -v '^$'
  else
    tr ' ' '\n' <<<"$1"
  fi
}

make_standin() { # name recipe refs description
  local name=$1 recipe=$2 description=$4 refs ref key ctx="$base/context/$1" stale=0 args=()
  mapfile -t refs < <(image_refs "$3")
  ((${#refs[@]})) || die "no image references for stand-in $name"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  "make_context_$recipe" "$ctx"
  # The key covers the recipe's inputs, the Dockerfile, the context's file names and sizes and the label text.
  key=$(cd "$ctx" && {
    "recipe_inputs_$recipe"
    cat Dockerfile
    find . -type f -printf '%p %s\n' | sort
    echo "$description" "$platforms"
  } | sha)
  for ref in "${refs[@]}"; do
    [[ $(docker image inspect -f "{{index .Config.Labels \"$CONTENT_LABEL\"}}" "$ref" 2>/dev/null) == "$key" ]] || stale=1
  done
  if ((stale == 0)); then
    log "$name: up to date (${refs[*]})"
    return 0
  fi
  for ref in "${refs[@]}"; do args+=(-t "$ref"); done
  log "$name: building ${refs[*]} for $platforms"
  if ! docker buildx build --progress=plain --platform "$platforms" --load \
    --label "$CONTENT_LABEL=$key" --label "org.cog-ci.stand-in=$description" \
    "${args[@]}" "$ctx" >"$ctx.log" 2>&1; then
    tail -n 30 "$ctx.log" >&2
    die "building stand-in $name failed (log: $ctx.log)"
  fi
  rm -f "$ctx.log"
}

main() {
  docker info >/dev/null 2>&1 || die "no Docker daemon answers: run scripts/setup-docker.sh first"
  local spec name recipe refs description
  for spec in "${STANDINS[@]}"; do
    IFS='|' read -r name recipe refs description <<<"$spec"
    make_standin "$name" "$recipe" "$refs" "$description"
  done
}

main "$@"
