/* Shared pieces of the benchmarks: clocks, percentiles, the raw loopback
 * baseline, and holding CPU idle states off. */
#ifndef SHUNT_BENCHLIB_H
#define SHUNT_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>

uint64_t bench_now_ns(void);
void bench_die(const char *what) __attribute__((noreturn));
/* Sorts v and returns the p-th percentile in microseconds. */
double bench_pct_us(uint64_t *v, size_t n, double p);
/* n request/response round trips of 32 bytes over loopback TCP to an echo
 * server in a child process (what every hop of the remote path is);
 * latencies in ns into lat. */
void bench_raw_roundtrips(uint64_t *lat, size_t n);
/* Keeps CPUs out of idle states while the returned fd is open: on a VM an
 * idle vCPU halts, and waking it costs tens of microseconds that would
 * otherwise dominate every round trip, the baseline's included.  -1 when
 * /dev/cpu_dma_latency cannot be written. */
int bench_hold_cpu_latency(void);

#endif
