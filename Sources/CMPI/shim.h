// MPI for Swift: mpi.h's communicators, data types and operations are macros (Open MPI's
// expand to addresses of global structures) that Swift cannot import, so these functions
// name them. Each returns MPI's error code (MPI_SUCCESS is 0) unless it says otherwise.
#include <mpi.h>

/// Starts MPI once (a singleton of world size 1 when the process was not started by mpirun).
static inline int vit_mpi_initialize(void) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return MPI_SUCCESS;
    int provided = 0;
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}

/// This process's rank and the number of processes in MPI_COMM_WORLD.
static inline int vit_mpi_world(int *rank, int *size) {
    int status = MPI_Comm_rank(MPI_COMM_WORLD, rank);
    return status != MPI_SUCCESS ? status : MPI_Comm_size(MPI_COMM_WORLD, size);
}

/// This process's rank among the processes on its node, and their number.
static inline int vit_mpi_node(int *rank, int *size) {
    MPI_Comm node;
    int status = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    if (status != MPI_SUCCESS) return status;
    status = MPI_Comm_rank(node, rank);
    if (status == MPI_SUCCESS) status = MPI_Comm_size(node, size);
    MPI_Comm_free(&node);
    return status;
}

/// Replaces `values` on every process by their element-wise sum over MPI_COMM_WORLD.
static inline int vit_mpi_sum_floats(float *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

/// Replaces `values` on every process by their element-wise sum over MPI_COMM_WORLD.
static inline int vit_mpi_sum_doubles(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

/// Starts replacing `values` on every process by their element-wise sum over MPI_COMM_WORLD,
/// without waiting (MPI_Iallreduce); `values` must stay untouched until `request` completes.
/// Every process starts its non-blocking collectives in the same order.
static inline int vit_mpi_start_sum_floats(float *values, int count, MPI_Request *request) {
    return MPI_Iallreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, request);
}

/// Lets MPI progress `request` and sets `done` to 1 once it has completed (the request is
/// then freed and set to MPI_REQUEST_NULL).
static inline int vit_mpi_test(MPI_Request *request, int *done) {
    return MPI_Test(request, done, MPI_STATUS_IGNORE);
}

/// A request that refers to no operation, which `vit_mpi_test` finds complete at once.
static inline MPI_Request vit_mpi_null_request(void) { return MPI_REQUEST_NULL; }

/// Replaces `values` on every process by their element-wise minimum over MPI_COMM_WORLD.
static inline int vit_mpi_minimum_doubles(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
}

/// MPI's description of an error code, into `text` of `capacity` bytes (empty when fewer than
/// `vit_mpi_error_text_capacity()`).
static inline void vit_mpi_error_text(int code, char *text, int capacity) {
    int length = 0;
    if (capacity < MPI_MAX_ERROR_STRING + 1 || MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    text[length] = 0;
}

/// The room `vit_mpi_error_text` needs: MPI_MAX_ERROR_STRING and the terminating zero.
static inline int vit_mpi_error_text_capacity(void) { return MPI_MAX_ERROR_STRING + 1; }

/// Ends every process of the job with `code`.
static inline int vit_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

/// Ends MPI (after the last collective).
static inline int vit_mpi_finalize(void) { return MPI_Finalize(); }
