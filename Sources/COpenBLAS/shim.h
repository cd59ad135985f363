// cblas-openblas.h (not the alternatives-managed cblas.h) so that OpenBLAS's own
// threading controls are declared whichever BLAS is the system default.
#include <x86_64-linux-gnu/cblas-openblas.h>

// LAPACK's single-precision SVD, which libopenblas carries; declared here (gfortran's
// calling convention: the lengths of the two character arguments come last) because the
// LAPACK headers are in another Debian package.
void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, float *a, const int *lda,
             float *s, float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *info, size_t jobuLength, size_t jobvtLength);
