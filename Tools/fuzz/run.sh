#!/usr/bin/env bash
# Builds one libFuzzer target and fuzzes it for SECONDS seconds.
#
#   Tools/fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET is safetensors, idx, cifar, gzip, config, jpeg or png. The reader's module and its
# dependencies are compiled straight from Sources/ with -sanitize=fuzzer,address into
# .build/fuzz/ (rebuilt when a source changes; the image codecs' C files with clang and the
# same sanitizers), then linked with Tools/fuzz/TARGET.swift.
# The committed seeds in Tools/fuzz/corpus/TARGET are only read; new inputs go to the
# working corpus .build/fuzz/corpus/TARGET, which grows from run to run, and crashes,
# leaks and timeouts to .build/fuzz/artifacts/TARGET/. SECONDS=0 runs each seed once
# (and the working corpus, if any) without fuzzing. Exits non-zero on any finding.
set -euo pipefail

usage="usage: $0 safetensors|idx|cifar|gzip|config|jpeg|png SECONDS [libFuzzer options...]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
target=$1 seconds=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/.build/fuzz
seeds=$root/Tools/fuzz/corpus/$target
extra_sources=()
case $target in
  safetensors) modules=(ViTSerialization) max_len=8192 ;;
  idx | gzip) modules=(ViTCore ViTData) max_len=4096 extra_sources=("$root/Tools/fuzz/ScratchFile.swift") ;;
  cifar) modules=(ViTCore ViTData) max_len=12000 ;;
  config) modules=(ViTCore ViTNN) max_len=4096 ;;
  jpeg | png) modules=(ViTCore ViTData) max_len=16384 extra_sources=("$root/Tools/fuzz/ImageFuzzing.swift") ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

flags=(-swift-version 5 -O -g -sanitize=fuzzer,address -parse-as-library
  -I "$build" -I "$build/CImageCodecs" -I "$root/Sources/CZlib" -I "$root/Sources/COpenBLAS")
mkdir -p "$build/corpus/$target" "$build/artifacts/$target" "$build/CImageCodecs"

# The image codecs' C target: SwiftPM makes its module map, so one is written here too.
codec_sources=("$root"/Sources/CImageCodecs/*.c)
cat >"$build/CImageCodecs/module.modulemap" <<MAP
module CImageCodecs {
    header "$root/Sources/CImageCodecs/include/ImageCodecs.h"
    link "turbojpeg"
    link "png16"
    export *
}
MAP
build_codecs() {
  local object=$build/CImageCodecs.o
  if [ -f "$object" ] && [ -z "$(find "${codec_sources[@]}" "$root/Sources/CImageCodecs/include" "$0" -newer "$object")" ]; then return; fi
  echo "fuzz: compiling CImageCodecs"
  local parts=()
  for source in "${codec_sources[@]}"; do
    clang -O1 -g -fsanitize=fuzzer-no-link,address -I "$root/Sources/CImageCodecs/include" -c "$source" -o "$build/$(basename "$source" .c).o"
    parts+=("$build/$(basename "$source" .c).o")
  done
  ld -r "${parts[@]}" -o "$object"
}

# Compiles module $1 (every Swift file under Sources/$1) into $build/$1.o and its
# .swiftmodule, unless both are newer than every source and this script.
build_module() {
  local module=$1 object=$build/$1.o
  local sources
  mapfile -t sources < <(find "$root/Sources/$module" -name '*.swift' | sort)
  if [ -f "$object" ] && [ -z "$(find "${sources[@]}" "$0" -newer "$object")" ]; then return; fi
  echo "fuzz: compiling $module"
  swiftc "${flags[@]}" -enable-testing -module-name "$module" -wmo -c "${sources[@]}" -o "$object.partial" \
    -emit-module -emit-module-path "$build/$module.swiftmodule"
  mv "$object.partial" "$object"
}

# One build at a time: runs of two targets share the modules.
exec 9>"$build/build.lock"
flock 9
build_codecs
objects=("$build/CImageCodecs.o")
for module in "${modules[@]}"; do
  build_module "$module"
  objects+=("$build/$module.o")
done
binary=$build/fuzz-$target
echo "fuzz: linking $binary"
swiftc "${flags[@]}" "$root/Tools/fuzz/$target.swift" "${extra_sources[@]}" "${objects[@]}" -lturbojpeg -lpng16 -o "$binary" 2>&1 |
  { grep -v "ld.gold: warning: Cannot export local symbol" || true; }
[ -x "$binary" ]
flock -u 9

options=(-timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1
  -artifact_prefix="$build/artifacts/$target/")
if [ "$seconds" -eq 0 ]; then
  options+=(-runs=0)
else
  options+=(-max_total_time="$seconds")
fi
echo "fuzz: $binary ${options[*]} $* $build/corpus/$target $seeds"
# The Swift runtime's backtracer would catch a trap before libFuzzer does, and hang.
SWIFT_BACKTRACE=enable=no "$binary" "${options[@]}" "$@" "$build/corpus/$target" "$seeds"
