// openblas_sgemm: side-by-side baseline for tensor's GemmNT benchmarks.
// Not built by go. Build and run:
//   gcc -O2 -o /tmp/openblas_sgemm tensor/bench/openblas_sgemm.c -lopenblas
//   OPENBLAS_NUM_THREADS=2 /tmp/openblas_sgemm [reps]
// Each shape computes C (M,N) = A (M,K) · B (N,K)^T, row-major, B in PyTorch [out,in] layout,
// which is cblas_sgemm(RowMajor, NoTrans, Trans). Prints the median GFLOP/s of reps timed runs.
#include <cblas.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// cpu is the user+system CPU time of the process: on a shared machine, unlike wall time, it
// does not count the time other processes held our cores.
static double cpu(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static int cmp(const void *x, const void *y) {
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

int main(int argc, char **argv) {
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	if (reps < 1 || reps > 1000) reps = 5;
	static const int shapes[][3] = {
		{1024, 1024, 1024}, {1024, 4096, 1024}, {1024, 1024, 4096},
		{128, 1024, 1024},
	};
	double *t = malloc(sizeof(double) * reps);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
		float *a = malloc(sizeof(float) * (size_t)m * k);
		float *b = malloc(sizeof(float) * (size_t)n * k);
		float *c = malloc(sizeof(float) * (size_t)m * n);
		for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)((i * 7 % 13) - 6) / 7.0f;
		for (size_t i = 0; i < (size_t)n * k; i++) b[i] = (float)((i * 5 % 11) - 5) / 5.0f;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
		double c0 = cpu();
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
			t[r] = now() - t0;
		}
		double cs = cpu() - c0;
		qsort(t, reps, sizeof(double), cmp);
		double flop = 2.0 * m * n * k;
		printf("openblas M=%d N=%d K=%d threads=%d median %.1f GFLOP/s (min %.1f max %.1f) %.1f GFLOP/cpu-s\n", m, n,
		       k, openblas_get_num_threads(), flop / t[reps / 2] / 1e9, flop / t[reps - 1] / 1e9, flop / t[0] / 1e9,
		       flop * reps / cs / 1e9);
		free(a);
		free(b);
		free(c);
	}
	free(t);
	return 0;
}
