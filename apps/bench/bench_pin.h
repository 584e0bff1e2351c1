/* Thread placement for the two-thread figures, C and C++: the producer on
 * one CPU, the consumer on another, so the scheduler never runs both sides
 * of a figure on one CPU (which moves no cache line between cores and gives
 * numbers several times higher that say nothing about a ring). Where
 * pinning is refused or there is one CPU, threads stay where they are.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef BENCH_PIN_H
#define BENCH_PIN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* Pin the calling thread to online CPU `k` (0: producer, 1: consumer). */
static inline void bench_pin(int k)
{
    cpu_set_t one;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    CPU_ZERO(&one);
    CPU_SET(k, &one);
    (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

/* Let the calling thread run on every online CPU again. */
static inline void bench_unpin(void)
{
    cpu_set_t all;
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    CPU_ZERO(&all);
    for (long cpu = 0; cpu < n && cpu < CPU_SETSIZE; ++cpu)
        CPU_SET((int)cpu, &all);
    (void)pthread_setaffinity_np(pthread_self(), sizeof all, &all);
}

#endif /* BENCH_PIN_H */
