#!/usr/bin/env bash
# Builds the two dependencies of the Windows kscprobe.exe that Debian does not ship for mingw-w64,
# OpenSSL 3 and yaml-cpp, from Debian's own source packages of the versions the Linux build uses
# (the installed libssl-dev and libyaml-cpp-dev), as static libraries for x86_64-w64-mingw32
# (posix threads compiler). Each goes into a prefix of its own, cached by version:
#   ${KSCPROBE_MINGW_DEPS:-/var/cache/kscprobe/mingw-deps}/<name>-<version>
# with a stamp file written last, so a warm run only checks the stamps, and the prefixes in
# prefixes.cmake there for cmake/mingw-w64.cmake. Prints them as `name=prefix` lines on standard
# output (the rest goes to standard error) and the time taken.
# Needs root (or sudo) once, to add the deb-src entry and run `apt-get update`.
set -euo pipefail
started=$SECONDS
cache=${KSCPROBE_MINGW_DEPS:-/var/cache/kscprobe/mingw-deps}
host=x86_64-w64-mingw32
jobs=${KSCPROBE_MINGW_JOBS:-2}
log() { echo "mingw-deps: $*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
for tool in $host-gcc-posix $host-g++-posix $host-ar $host-ranlib $host-windres cmake make perl dpkg-source; do
  command -v "$tool" >/dev/null || fail "$tool missing (scripts/packages/test-service.txt)"
done
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

# The versions the Linux build compiles against: the same source, built for the other target.
# The source version: a binary rebuild (+bN) has the same source as its package.
version_of() { dpkg-query -W -f='${source:Version}' "$1" 2>/dev/null || fail "$1 is not installed"; }

ready() { [[ -f "$1/.kscprobe-built" ]]; }

# deb-src for the same archive as the binary packages: a deb822 file of its own, derived from
# debian.sources (same URIs, suites, components and key), so the source versions match.
ensure_deb_src() {
  local sources=/etc/apt/sources.list.d/debian.sources
  local entry=/etc/apt/sources.list.d/kscprobe-deb-src.sources
  [[ -f "$sources" ]] || fail "$sources not found: no Debian archive to take the sources from"
  local want
  want=$(sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$sources")
  if [[ -f "$entry" && "$(cat "$entry")" == "$want" ]]; then
    return 0
  fi
  log "adding $entry and running apt-get update"
  printf '%s\n' "$want" | "${sudo_cmd[@]}" tee "$entry" >/dev/null
  "${sudo_cmd[@]}" apt-get update -q >&2 || fail "apt-get update"
}

# Unpacks the downloaded Debian source package `name` in `dir` (patches applied) and prints the
# source tree's path.
unpack() {
  local name=$1 dir=$2
  local dsc
  local candidates=("$dir/${name}"_*.dsc)
  dsc=${candidates[0]}
  [[ -f "$dsc" ]] || fail "no .dsc of $name in $dir"
  rm -rf "$dir/src"
  dpkg-source --no-check -x "$dsc" "$dir/src" >&2 || fail "dpkg-source -x $dsc"
  echo "$dir/src"
}

build_openssl() {
  local work=$1 src=$2
  log "building OpenSSL $openssl_version (static, mingw64) in $src"
  (
    cd "$src"
    # no-shared: static only; no-tests: nothing but the libraries (build_libs) and headers
    # (install_dev, no documentation: OpenSSL 3.0 has no no-docs option yet).
    ./Configure mingw64 no-shared no-tests no-module \
      --cross-compile-prefix=$host- --prefix="$openssl_prefix" --libdir=lib \
      CC=gcc-posix CXX=g++-posix >"$work/configure.log" 2>&1 \
      || { tail -30 "$work/configure.log"; exit 1; }
    make -j"$jobs" build_libs >"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
    make install_dev >"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
  ) >&2 || fail "OpenSSL build (logs in $work)"
  [[ -f "$openssl_prefix/lib/libssl.a" && -f "$openssl_prefix/lib/libcrypto.a" ]] \
    || fail "OpenSSL: no static libraries in $openssl_prefix/lib"
  echo "$openssl_version" >"$openssl_prefix/.kscprobe-built"
}

build_yaml() {
  local work=$1 src=$2
  log "building yaml-cpp $yaml_version (static) in $src"
  local tc="$work/toolchain.cmake"
  cat >"$tc" <<EOF
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_C_COMPILER $host-gcc-posix)
set(CMAKE_CXX_COMPILER $host-g++-posix)
set(CMAKE_RC_COMPILER $host-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$host)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF
  {
    cmake -S "$src" -B "$work/build" -DCMAKE_TOOLCHAIN_FILE="$tc" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$yaml_prefix" -DBUILD_SHARED_LIBS=OFF -DYAML_BUILD_SHARED_LIBS=OFF \
      -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF \
      -DYAML_CPP_INSTALL=ON &&
      cmake --build "$work/build" -j"$jobs" && cmake --install "$work/build"
  } >"$work/build.log" 2>&1 || {
    tail -40 "$work/build.log" >&2
    fail "yaml-cpp build (log in $work/build.log)"
  }
  ls "$yaml_prefix"/lib/libyaml-cpp*.a >/dev/null 2>&1 || fail "yaml-cpp: no static library"
  echo "$yaml_version" >"$yaml_prefix/.kscprobe-built"
}

# The source versions to try for a binary package, best first: the installed one (the source of
# what Linux links), then the others the archive lists, newest first. The archive keeps only the
# newest version of each suite, so once an update supersedes the installed version its source is
# gone (and a mirror may lack a pool file): the build then takes the next one, with a warning.
source_versions() {
  local package=$1 source=$2 installed
  installed=$(version_of "$package")
  echo "$installed"
  apt-cache showsrc "$source" 2>/dev/null | sed -n 's/^Version: //p' | grep -vxF "$installed" |
    sort -u | sort -r -V
}

# Chooses the version of `source` and sets `version` and `prefix`, and `src` (the unpacked tree)
# when it needs a build. In this order: the installed version cached, or its source; another
# version cached (a warm run after the installed source left the archive); another's source.
choose() {
  local package=$1 source=$2 dir=$3 v installed
  mapfile -t versions < <(source_versions "$package" "$source")
  installed=${versions[0]}
  src=
  version=$installed prefix="$cache/$source-$installed"
  ready "$prefix" && return 0
  if download "$source" "$installed" "$dir"; then
    src=$(unpack "$source" "$dir")
    return 0
  fi
  for v in "${versions[@]:1}"; do
    version=$v prefix="$cache/$source-$v"
    if ready "$prefix"; then
      log "WARNING: $source $v (cached) instead of $installed, the version Linux links, whose" \
        "source is not in the archive"
      return 0
    fi
  done
  for v in "${versions[@]:1}"; do
    version=$v prefix="$cache/$source-$v"
    if download "$source" "$v" "$dir"; then
      log "WARNING: $source $v instead of $installed, the version Linux links, whose source is" \
        "not in the archive"
      src=$(unpack "$source" "$dir")
      return 0
    fi
  done
  fail "no source of $source to build"
}

download() {
  local source=$1 v=$2 dir=$3
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && apt-get source -q --download-only "$source=$v" >&2) && return 0
  log "the source of $source $v cannot be downloaded"
  return 1
}

# One build at a time per cache folder, whichever checkout runs it.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 3600 9 || fail "timed out waiting for $cache/.lock"
ensure_deb_src
tmp=$(mktemp -d "$cache/.work-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The Debian revision stays in the folder name: a security update of the same upstream
# version is another source.
choose libyaml-cpp-dev yaml-cpp "$tmp/yaml-cpp"
yaml_version=$version yaml_prefix=$prefix
if [[ -n "$src" ]]; then
  t=$SECONDS
  rm -rf "$yaml_prefix"
  build_yaml "$tmp/yaml-cpp" "$src"
  log "yaml-cpp $yaml_version built in $((SECONDS - t)) s"
fi
choose libssl-dev openssl "$tmp/openssl"
openssl_version=$version openssl_prefix=$prefix
if [[ -n "$src" ]]; then
  t=$SECONDS
  rm -rf "$openssl_prefix"
  build_openssl "$tmp/openssl" "$src"
  log "OpenSSL $openssl_version built in $((SECONDS - t)) s"
fi
# For cmake/mingw-w64.cmake: the prefixes of this run's versions.
cat >"$tmp/prefixes.cmake" <<EOF
# Written by scripts/mingw-deps.sh: the static builds cmake/mingw-w64.cmake uses.
set(KSCPROBE_MINGW_OPENSSL "$openssl_prefix")
set(KSCPROBE_MINGW_YAML_CPP "$yaml_prefix")
EOF
cmp -s "$tmp/prefixes.cmake" "$cache/prefixes.cmake" || mv "$tmp/prefixes.cmake" "$cache/prefixes.cmake"
log "yaml-cpp $yaml_version, OpenSSL $openssl_version ready in $cache in $((SECONDS - started)) s"
echo "openssl=$openssl_prefix"
echo "yaml-cpp=$yaml_prefix"
