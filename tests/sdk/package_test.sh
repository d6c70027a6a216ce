#!/usr/bin/env bash
# `cpack -G DEB` makes libbrook-dev and brook-tools with the right dependencies; unpacked with
# dpkg-deb -x into an empty root, they build the example project and run it.
source "$(dirname "$0")/common.sh"

(cd "$BROOK_BUILD_DIR" && cpack -G DEB -B "$work/packages") >"$work/cpack.log" 2>&1 ||
  { tail -30 "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
dev=$(ls "$work"/packages/libbrook-dev_*.deb 2>/dev/null | head -1)
tools=$(ls "$work"/packages/brook-tools_*.deb 2>/dev/null | head -1)
[[ -n $dev && -n $tools ]] || { ls "$work/packages" >&2; fail "expected libbrook-dev and brook-tools packages"; }

depends=$(dpkg-deb -f "$dev" Depends)
for p in libzmq3-dev libmsgpack-cxx-dev libyaml-cpp-dev libboost-program-options-dev zlib1g-dev \
  libsqlite3-dev; do
  grep -q "$p" <<<"$depends" || fail "libbrook-dev does not depend on $p: $depends"
done
tools_depends=$(dpkg-deb -f "$tools" Depends)
grep -q "libc6" <<<"$tools_depends" || fail "brook-tools' Depends lacks libc6: $tools_depends"
tools_files=$(dpkg-deb -c "$tools")
dev_files=$(dpkg-deb -c "$dev")
grep -q './usr/bin/brook-directory$' <<<"$tools_files" || fail "brook-tools lacks brook-directory"
grep -q 'brook/testing.hpp$' <<<"$dev_files" || fail "libbrook-dev lacks brook/testing.hpp"
grep -q 'libbrook\.a$' <<<"$dev_files" || fail "libbrook-dev lacks libbrook.a"
! grep -q '/usr/bin/' <<<"$dev_files" || fail "libbrook-dev holds programs"
echo "ok: libbrook-dev ($depends), brook-tools ($tools_depends)"

root=$work/root
dpkg-deb -x "$dev" "$root"
dpkg-deb -x "$tools" "$root"
project=$work/wordcount
copy_example "$project"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$root" -name brook.pc | head -1)")
cmake -S "$project" -B "$project/build" -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_CXX_FLAGS="${BROOK_SDK_CXXFLAGS:-}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; fail "the example did not configure against the packages"; }
cmake --build "$project/build" -j2 >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; fail "the example did not build against the packages"; }
(cd "$project/build" && ctest --output-on-failure) >"$work/ctest.log" 2>&1 ||
  { cat "$work/ctest.log" >&2; fail "the example's unit test failed against the packages"; }
pkg-config --exists brook || fail "brook.pc of the package is not usable"
[[ $(pkg-config --variable=prefix brook) -ef $root/usr ]] ||
  fail "brook.pc's prefix $(pkg-config --variable=prefix brook) is not the unpacked root"
run_wordcount "$root/usr/bin/brook" "$project/build" 500 "$project"
