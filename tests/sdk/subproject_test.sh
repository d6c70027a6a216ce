#!/usr/bin/env bash
# The user's project builds brook from source with add_subdirectory (what FetchContent does),
# as a shared library this time, without GoogleTest: brook's tests, examples and benchmarks stay
# out of the parent's build. The nodes and brook's own tools from
# that build then run the topology.
source "$(dirname "$0")/common.sh"

project=$work/wordcount
copy_example "$project"
cmake -S "$project" -B "$project/build" -DBROOK_SOURCE_DIR="$BROOK_SOURCE_DIR" \
  -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
  -DCMAKE_CXX_FLAGS="${BROOK_SDK_CXXFLAGS:-}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; fail "add_subdirectory(brook) did not configure"; }
grep -q "GoogleTest not found, the unit test is not built" "$work/configure.log" ||
  fail "GoogleTest was found although disabled"

# Only the library, the tools and the parent's targets are part of the build.
targets=$(cmake --build "$project/build" --target help)
for t in brook brook_testing brook_cli brook-directory brook-dead-letters wordcount-tally; do
  grep -qw -- "$t" <<<"$targets" || fail "target $t is missing from the parent's build"
done
for t in brook-shop-order node_api_test bench-brook-stage brook-example-ticker; do
  ! grep -qw -- "$t" <<<"$targets" || fail "brook's own $t is in the parent's build"
done

cmake --build "$project/build" -j2 >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; fail "the parent project did not build"; }
lib=$(find "$project/build" -name 'libbrook.so.*' | head -1)
[[ -n $lib ]] || fail "BUILD_SHARED_LIBS=ON built no libbrook.so"
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[[ $soname == libbrook.so.0.2 ]] || fail "libbrook's soname is '$soname', expected libbrook.so.0.2"
echo "ok: add_subdirectory(brook) built $soname, brook's tools and the parent's nodes"

brook_bin=$(dirname "$(find "$project/build" -type f -name brook -perm -u+x | head -1)")
[[ -x $brook_bin/brook-directory ]] || fail "brook-directory is not next to brook ($brook_bin)"
run_wordcount "$brook_bin/brook" "$project/build" 500 "$project"
