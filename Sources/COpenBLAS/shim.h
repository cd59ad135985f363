// cblas-openblas.h (not the alternatives-managed cblas.h) so that OpenBLAS's own
// threading controls are declared whichever BLAS is the system default.
#include <x86_64-linux-gnu/cblas-openblas.h>
