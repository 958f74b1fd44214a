// The machine's noise floor for a short code path: the same fixed work timed 50,000 times (after 5,000 untimed), and
// its p50 / p90 / p99 / p99.9. A compute loop has no memory traffic and no runtime, so a p99 well above its p50 is the
// machine stopping the thread (the hypervisor, interrupts, other processes), not the work: what the placement bench's
// p99 is compared with (docs/benchmarks.md, "Where the p99 comes from").
//
//   gcc -O2 -o /tmp/noise_floor bench/profile/noise_floor.c
//   /tmp/noise_floor ITERATIONS READS MEGABYTES   # e.g. 6000 0 1: ~9 µs of multiply-xorshift; 0 150 64: 150 random reads over 64 MB
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ITERATIONS READS MEGABYTES\n", argv[0]);
        return 2;
    }

    const int samples = 50000;
    long iterations = atol(argv[1]), reads = atol(argv[2]);
    size_t words = (size_t)atol(argv[3]) * 1024 * 1024 / 8;
    if (words == 0) {
        words = 1;
    }

    uint64_t *memory = malloc(words * 8);
    double *times = malloc(samples * sizeof(double));
    if (memory == NULL || times == NULL) {
        return 1;
    }

    for (size_t i = 0; i < words; i++) {
        memory[i] = i * 2654435761u;
    }

    volatile uint64_t sink = 0;
    uint64_t x = 88172645463325252ull;
    for (int k = -5000; k < samples; k++) {
        double start = now_us();
        uint64_t h = (uint64_t)k;
        for (long i = 0; i < iterations; i++) {
            h = (h ^ (h >> 13)) * 0x9E3779B97F4A7C15ull;
        }

        for (long r = 0; r < reads; r++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            h += memory[x % words];
        }

        sink += h;
        double elapsed = now_us() - start;
        if (k >= 0) {
            times[k] = elapsed;
        }
    }

    qsort(times, samples, sizeof(double), by_value);
    printf("iterations %ld, reads %ld over %s MB: p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f µs\n", iterations, reads, argv[3],
           times[samples / 2], times[samples * 9 / 10], times[samples * 99 / 100], times[samples * 999 / 1000]);
    free(memory);
    free(times);
    return 0;
}
