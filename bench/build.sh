# bench/build.sh - sourced by bench/run and bench/profile: builds zhive in Release into
# bench/out/build and the bench programs into bench/out. Expects $here (bench/), $repo, $out
# and $logs to be set; sets $build, $zbench, $shim and $chunk_def.
build=$out/build
zbench=$out/zhive_bench
shim=$out/malloc_count.so
echo "bench: building zhive (Release) in $build" >&2
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DZHIVE_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX="$out/prefix" >"$logs/build.log" 2>&1
cmake --build "$build" -j "${BENCH_JOBS:-$(nproc)}" >>"$logs/build.log" 2>&1 \
  || { cat "$logs/build.log" >&2; exit 1; }
cflags="-I$repo/include $(pkg-config --cflags libczmq libzmq msgpack)"
libs="-L$build/lib -Wl,-rpath,$build/lib -lzhive $(pkg-config --libs libczmq libzmq msgpack)"
# Workload 3 chunks when zhive_opts_t has a chunksize field
printf '#include <zhive.h>\nint main (void) { zhive_opts_t o = { .chunksize = 2 }; return o.chunksize != 2; }\n' \
  >"$out/chunk_check.c"
chunk_def=
# shellcheck disable=SC2086
if cc -std=gnu11 -c -o "$out/chunk_check.o" "$out/chunk_check.c" $cflags 2>/dev/null; then
  chunk_def=-DZHIVE_HAVE_CHUNKSIZE
fi
rm -f "$out/chunk_check.o"
# The metrics scraper (ZHIVE_BENCH_HTTP) where the library has a metrics server
grep -q zhive_broker_set_http "$repo/include/zhive_broker.h" && chunk_def="$chunk_def -DZHIVE_HAVE_HTTP"
# shellcheck disable=SC2086
{ cc -O2 -g -std=gnu11 -Wall -Wextra $chunk_def -o "$zbench" "$here/zhive_bench.c" $cflags $libs \
  && cc -O2 -Wall -Wextra -shared -fPIC -o "$shim" "$here/malloc_count.c" -lpthread; } \
  >>"$logs/build.log" 2>&1 || { cat "$logs/build.log" >&2; exit 1; }
echo "bench: built; chunking API: ${chunk_def:-no}" >&2
