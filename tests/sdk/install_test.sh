#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then a project outside this repository uses it as
# a user would: find_package(brook) for three nodes and their unit test, pkg-config for one
# node, the installed `brook up` to run them; a too-old version request and a missing
# dependency fail with CMake's clear message.
source "$(dirname "$0")/common.sh"

prefix=$work/prefix
cmake --install "$BROOK_BUILD_DIR" --prefix "$prefix" >"$work/install.log"

# ---- what is installed -------------------------------------------------------------------
libdir=$(cd "$prefix" && dirname "$(find . -name libbrook.a -o -name 'libbrook.so' | head -1)")
libdir=${libdir#./}
[[ -n $libdir ]] || fail "no libbrook in $prefix"
for f in bin/brook bin/brook-directory bin/brook-dead-letters \
         include/brook/node.hpp include/brook/testing.hpp include/brook/program_options.hpp \
         "$libdir/cmake/brook/brookConfig.cmake" "$libdir/cmake/brook/brookConfigVersion.cmake" \
         "$libdir/cmake/brook/brookTargets.cmake" "$libdir/pkgconfig/brook.pc" \
         share/doc/brook/sdk.md; do
  [[ -e $prefix/$f ]] || fail "not installed: $f"
done
ls "$prefix/$libdir" | grep -q '^libbrook_testing\.' || fail "not installed: libbrook_testing"
# Internals stay internal.
for f in directory_protocol.hpp directory_client.hpp security.hpp zap_handler.hpp lifecycle.hpp; do
  [[ ! -e $prefix/include/brook/$f ]] || fail "internal header installed: include/brook/$f"
done

# ---- the public headers see no Boost or yaml-cpp -----------------------------------------
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
read -r -a cflags <<<"$(pkg-config --cflags brook)"
for h in "$prefix"/include/brook/*.hpp; do
  echo "#include <brook/$(basename "$h")>" >"$work/header.cpp"
  deps=$(c++ -std=c++20 "${cflags[@]}" -M "$work/header.cpp") || fail "$(basename "$h") does not compile alone"
  if grep -Eo '[^ ]*/(boost|yaml-cpp)/[^ ]*' <<<"$deps" | head -3 | grep .; then
    fail "<brook/$(basename "$h")> includes Boost or yaml-cpp headers (above)"
  fi
done
echo "ok: public headers compile alone, without Boost or yaml-cpp"

# ---- the user's project: find_package(brook) ---------------------------------------------
project=$work/wordcount
copy_example "$project"
cmake -S "$project" -B "$project/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="${BROOK_SDK_CXXFLAGS:-}" >"$work/configure.log" ||
  { cat "$work/configure.log" >&2; fail "find_package(brook) project did not configure"; }
cmake --build "$project/build" -j2 >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; fail "find_package(brook) project did not build"; }
(cd "$project/build" && ctest --output-on-failure) >"$work/ctest.log" 2>&1 ||
  { cat "$work/ctest.log" >&2; fail "the project's unit test (brook::testing) failed"; }
grep -q "100% tests passed" "$work/ctest.log" || fail "the project's unit test did not run"
echo "ok: find_package(brook) project built and its brook::testing test passed"

# ---- one node built with pkg-config alone -------------------------------------------------
mkdir -p "$work/pc-bin"
# shellcheck disable=SC2046
c++ -std=c++20 ${BROOK_SDK_CXXFLAGS:-} -o "$work/pc-bin/wordcount-tally" \
  "$project/tally.cpp" "$project/wordcount.cpp" $(pkg-config --cflags --libs brook) ||
  fail "pkg-config --cflags --libs brook did not build the tally"
rm "$project/build/wordcount-tally"  # so `brook up` can only find the pkg-config one
echo "ok: pkg-config --cflags --libs brook built a node"

# ---- the installed brook up runs them ----------------------------------------------------
run_wordcount "$prefix/bin/brook" "$work/pc-bin:$project/build" 2000 "$project"

# ---- versions and dependencies -----------------------------------------------------------
probe() {  # probe NAME CMAKE-LINES...: configures a one-line project, prints its output
  local dir=$work/probe-$1
  mkdir -p "$dir"
  shift
  printf 'cmake_minimum_required(VERSION 3.25)\nproject(probe CXX)\n%s\n' "$*" >"$dir/CMakeLists.txt"
  # CMake wraps its messages: one line, single spaces.
  cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" "${probe_args[@]}" 2>&1 |
    tr -s ' \n' ' ' || true
}
probe_args=()
for wanted in 0.99 0.1; do  # newer than installed; older minor (0.x: a minor step may break)
  out=$(probe "v$wanted" "find_package(brook $wanted REQUIRED)")
  grep -q "compatible with requested version \"$wanted\"" <<<"$out" &&
    grep -q 'considered but not accepted' <<<"$out" ||
    { echo "$out" >&2; fail "find_package(brook $wanted) is not refused with CMake's message"; }
done
probe_args=(-DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON)
out=$(probe nodeps 'find_package(brook REQUIRED)')
grep -q 'brook needs yaml-cpp (Debian: apt-get install libyaml-cpp-dev)' <<<"$out" ||
  { echo "$out" >&2; fail "a missing dependency is not named"; }
echo "ok: version and dependency errors are CMake's, and name the fix"
