// memory_probe: what one random access costs on this machine, the unit the
// aggregation thread pays in (docs/benchmarks.md): the latency of a dependent
// miss, and the throughput of independent, prefetched misses, over a table of
// SIZE MiB (default 32, the distinct-pair table), with 4 KiB and 2 MiB pages.
//
//   cc -O2 -o bench-out/memory_probe Benchmarks/memory_probe.c && bench-out/memory_probe 32
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static uint64_t next(uint64_t *s) { uint64_t z = (*s += 0x9E3779B97F4A7C15ull); z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }

static void probe(size_t mib, int huge) {
    size_t bytes = mib << 20, n = bytes / 8;
    uint64_t *a = mmap(NULL, bytes + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    a = (uint64_t *)(((uintptr_t)a + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
    madvise(a, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    // A random cyclic permutation (Sattolo) for the dependent chain.
    for (size_t i = 0; i < n; i++) a[i] = i;
    uint64_t s = 42;
    for (size_t i = n - 1; i > 0; i--) { size_t j = next(&s) % i; uint64_t t = a[i]; a[i] = a[j]; a[j] = t; }
    const size_t steps = 4000000;
    double t0 = now();
    uint64_t p = 0;
    for (size_t i = 0; i < steps; i++) p = a[p];
    double latency = (now() - t0) / steps * 1e9;
    // Independent random reads, prefetched 16 ahead (what Aggregator.consume does).
    uint64_t idx[64], sum = p;
    for (int k = 0; k < 64; k++) idx[k] = next(&s) % n;
    t0 = now();
    for (size_t i = 0; i < steps; i++) {
        uint64_t ahead = next(&s) % n;
        __builtin_prefetch(&a[ahead]);
        sum += a[idx[i & 63]];
        idx[i & 63] = ahead;
    }
    double throughput = (now() - t0) / steps * 1e9;
    printf("%4zu MiB, %s pages: dependent miss %.1f ns, independent prefetched miss %.1f ns (sum %llu)\n",
           mib, huge ? "2 MiB" : "4 KiB", latency, throughput, (unsigned long long)(sum & 1));
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
    probe(mib, 0);
    probe(mib, 1);
    return 0;
}
