#!/usr/bin/env bash
# libneuron as a dependency: install a build into a scratch prefix
# (meson install --destdir), then build examples/fit_line.c the way a user
# would, through pkg-config, against the shared library and again against
# the static one, and run both. Also checks that the shared library exports
# exactly the functions the installed headers declare, and runs the
# README's first session as written.
# Usage: tests/install.sh [BUILD_DIR]   (scripts/test runs it on build/)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: FAIL: $*" >&2; exit 1; }

meson install -C "$build" --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "meson install"; }
prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
libdir=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"))')
case "$libdir" in /*) ;; *) libdir=$prefix/$libdir ;; esac
root=$tmp/root
for f in "$prefix/include/neuron.h" "$prefix/include/neuron_tutorial.h" "$libdir/libneuron.a" \
         "$libdir/libneuron.so" "$libdir/pkgconfig/neuron.pc" "$prefix/bin/neuron"; do
  [ -e "$root$f" ] || fail "$f was not installed"
done
soname=$(readelf -d "$root$libdir/libneuron.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libneuron.so.0 ] || fail "soname is '$soname', expected libneuron.so.0"

# pkg-config reads the .pc from the scratch root; the sysroot prefixes its -I and -L.
export PKG_CONFIG_PATH=$root$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
pkg-config --exists neuron || fail "pkg-config does not find neuron"
[ "$(pkg-config --modversion neuron)" = "$(meson introspect "$build" --projectinfo |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ] ||
  fail "pkg-config version differs from the project's"
cflags=$(pkg-config --cflags neuron)
header_version=$(printf '#include <neuron.h>\nNR_VERSION_STRING\n' | ${CC:-cc} -E -P $cflags - | tail -1 | tr -d '"')
[ "$header_version" = "$(pkg-config --modversion neuron)" ] ||
  fail "neuron.h says version $header_version, the library $(pkg-config --modversion neuron)"
cc=${CC:-cc}

# Shared: only what pkg-config says, nothing from the source tree.
# shellcheck disable=SC2046,SC2086
$cc -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/fit_shared" "$src/examples/fit_line.c" \
  $(pkg-config --libs neuron) -lm || fail "building the example against the shared library"
readelf -d "$tmp/fit_shared" | grep -q 'NEEDED.*libneuron.so.0' ||
  fail "the shared build does not load libneuron.so.0"
LD_LIBRARY_PATH=$root$libdir "$tmp/fit_shared" >"$tmp/out_shared" ||
  { cat "$tmp/out_shared" >&2; fail "the example built against the shared library failed"; }

# Static: the archive by name, with the private dependencies pkg-config lists.
static_libs=$(pkg-config --static --libs neuron | sed 's/-lneuron\b/-l:libneuron.a/')
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/fit_static" "$src/examples/fit_line.c" \
  $static_libs || fail "building the example against the static library"
if readelf -d "$tmp/fit_static" | grep -q 'NEEDED.*libneuron'; then
  fail "the static build still loads libneuron.so"
fi
"$tmp/fit_static" >"$tmp/out_static" ||
  { cat "$tmp/out_static" >&2; fail "the example built against the static library failed"; }
cmp -s "$tmp/out_shared" "$tmp/out_static" || fail "shared and static builds print different results"

# Exported symbols = the functions the installed headers declare (after the
# preprocessor, so comments do not count; a return type before a function
# pointer, `nr_status (*fn)(...)`, is not a declaration). A declaration without NR_API, or
# an internal function that leaks out, shows up here.
nm -D --defined-only "$root$libdir/libneuron.so" | awk '{print $3}' | grep -v '^_' | sort >"$tmp/exported"
printf '#include <neuron.h>\n#include <neuron_tutorial.h>\n' |
  $cc -E $cflags - | grep -oE '\bnr_[a-z0-9_]*[[:space:]]*\([^*]' | grep -oE '^nr_[a-z0-9_]*' |
  sort -u >"$tmp/declared"
if ! cmp -s "$tmp/exported" "$tmp/declared"; then
  { diff "$tmp/declared" "$tmp/exported" || true; } |
    sed -n 's/^</  declared, not exported:/p; s/^>/  exported, not declared:/p' >&2
  fail "libneuron.so exports other symbols than the headers declare"
fi
# The README's first session, as written (build/neuron from this build).
sed -n '/^## From a fresh clone/,/^## /p' "$src/README.md" | sed -n 's/^    \(build\/neuron .*\)/\1/p' |
  sed 's/ *#.*$//' >"$tmp/readme.sh"
[ "$(wc -l <"$tmp/readme.sh")" -ge 3 ] || fail "no build/neuron commands found in the README's first session"
mkdir "$tmp/readme"
while read -r line; do
  # shellcheck disable=SC2086
  (cd "$tmp/readme" && "$build/neuron" ${line#build/neuron } >/dev/null 2>"$tmp/readme.err") ||
    { cat "$tmp/readme.err" >&2; fail "README command failed: $line"; }
done <"$tmp/readme.sh"

echo "install test: ok: $(wc -l <"$tmp/exported") exported functions, the README's $(wc -l <"$tmp/readme.sh") first commands run, shared and static builds of examples/fit_line.c agree:"
sed 's/^/  /' "$tmp/out_shared"
