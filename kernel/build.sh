#!/usr/bin/env bash
# Build HyperKernel from Debian's linux-source-6.1 package into the cache.
#
# Usage: kernel/build.sh [--print-key] [--force]
#   --print-key  print the cache key and exit (tests compare it with the TS key)
#   --force      rebuild even when the key is already cached
#
# Environment:
#   HYPERBUILD_KERNEL_CACHE_DIR   cache dir (default: $XDG_CACHE_HOME/hyperbuild or
#                          ~/.cache/hyperbuild, like toolchain/cache/cache-dir.ts)
#   HYPERKERNEL_SOURCE     source tarball (default /usr/src/linux-source-6.1.tar.xz)
#   HYPERKERNEL_WORKDIR    where the source is unpacked and built
#                          (default <cache>/kernels/.work)
#   HYPERKERNEL_JOBS       make -j (default: nproc)
#   HYPERKERNEL_KEEP_BUILD keep the object directory after success when 1
#
# Output: <cache>/kernels/<key>/{vmlinux,bzImage,.config,release,SHA256SUMS}
# where key = sha256(fragment bytes, source package version, gcc version);
# toolchain/kernel/cache-key.ts computes the same key. The directory appears
# atomically (built in a temp dir, then renamed), so "it exists" means "it is
# complete".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/hyperkernel.config
source_pkg=linux-source-6.1
source_tar=${HYPERKERNEL_SOURCE:-/usr/src/$source_pkg.tar.xz}

print_key=0
force=0
for arg in "$@"; do
  case $arg in
    --print-key) print_key=1 ;;
    --force) force=1 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

step() { printf 'hyperkernel: %s\n' "$*"; }
die() { printf 'hyperkernel: error: %s\n' "$*" >&2; exit 1; }

if [[ -n ${HYPERBUILD_KERNEL_CACHE_DIR:-} ]]; then
  cache_dir=$HYPERBUILD_KERNEL_CACHE_DIR
elif [[ ${XDG_CACHE_HOME:-} == /* ]]; then
  cache_dir=$XDG_CACHE_HOME/hyperbuild
else
  cache_dir=$HOME/.cache/hyperbuild
fi

# The key inputs, in the exact byte layout cache-key.ts hashes:
# fragment bytes, then "<package> <version>\n", then gcc's first line + "\n".
source_version=$(dpkg-query -W -f='${Version}' "$source_pkg" 2>/dev/null) ||
  die "$source_pkg is not installed (apt-get install $source_pkg)"
gcc_version=$(gcc --version | head -n 1)
key=$({ cat "$fragment"; printf '%s %s\n%s\n' "$source_pkg" "$source_version" "$gcc_version"; } |
  sha256sum | cut -d ' ' -f 1)

if (( print_key )); then
  echo "$key"
  exit 0
fi

kernels_dir=$cache_dir/kernels
out_dir=$kernels_dir/$key
if [[ -f $out_dir/vmlinux && $force == 0 ]]; then
  step "cached: $out_dir ($(cat "$out_dir/release"))"
  exit 0
fi

[[ -f $source_tar ]] || die "no kernel source at $source_tar (apt-get install $source_pkg)"
workdir=${HYPERKERNEL_WORKDIR:-$kernels_dir/.work}
jobs=${HYPERKERNEL_JOBS:-$(nproc)}
mkdir -p "$workdir" "$kernels_dir"

# One unpacked tree per source version, shared by every fragment; unpacked
# aside and renamed so an interrupted unpack is never mistaken for a tree.
src=$workdir/$source_pkg-$source_version
if [[ ! -f $src/Makefile ]]; then
  step "unpacking $source_tar ($source_version)"
  rm -rf "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xf "$source_tar" -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src"
fi

# The object directory path is fixed per key and always starts empty: a
# from-scratch build is what makes the same inputs give the same bytes.
obj=$workdir/build-$key
rm -rf "$obj"
mkdir -p "$obj"

# Everything that would otherwise leak the build machine or the clock into
# the image (`uname -v`, /proc/version) is pinned.
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 1970'
export KBUILD_BUILD_USER=hyperbuild
export KBUILD_BUILD_HOST=hyperbuild
export KBUILD_BUILD_VERSION=1
export LC_ALL=C TZ=UTC
unset KCONFIG_CONFIG KBUILD_OUTPUT ARCH CROSS_COMPILE || true

kmake() { make -C "$src" O="$obj" ARCH=x86_64 "$@"; }

start=$SECONDS
step "configuring (tinyconfig + $(basename "$fragment") + olddefconfig)"
kmake -s tinyconfig
cp "$fragment" "$obj/hyperkernel.config"
(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m .config hyperkernel.config) >"$obj/merge_config.log" 2>&1 ||
  { cat "$obj/merge_config.log" >&2; die "merge_config.sh failed"; }
kmake -s olddefconfig
"$here/check-config.sh" "$fragment" "$obj/.config"

step "building vmlinux and bzImage with $jobs jobs"
kmake -j"$jobs" vmlinux bzImage
release=$(cat "$obj/include/config/kernel.release")

tmp=$(mktemp -d "$kernels_dir/.tmp-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Stripped: symbols and debug sections are useless to the VMM; the PVH note
# lives in an allocated note section and survives --strip-all.
strip --strip-all -o "$tmp/vmlinux" "$obj/vmlinux"
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$obj/.config" "$tmp/.config"
printf '%s\n' "$release" >"$tmp/release"
(cd "$tmp" && sha256sum vmlinux bzImage .config release >SHA256SUMS)
chmod 0755 "$tmp"

if [[ -e $out_dir ]]; then
  # --force or a concurrent build: replace rather than merge.
  rm -rf "$out_dir.old"
  mv "$out_dir" "$out_dir.old"
fi
mv "$tmp" "$out_dir"
trap - EXIT
rm -rf "$out_dir.old"
[[ ${HYPERKERNEL_KEEP_BUILD:-0} == 1 ]] || rm -rf "$obj"

step "built $release in $((SECONDS - start))s"
sed 's/^/hyperkernel:   /' "$out_dir/SHA256SUMS"
step "cached: $out_dir"
