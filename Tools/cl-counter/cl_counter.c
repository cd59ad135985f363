// Counts the OpenCL commands a process issues, for the per-step figures of BENCHMARKS.md.
// Loaded with LD_PRELOAD in front of the ICD loader (libOpenCL), it wraps the enqueue and
// wait entry points, so it sees every command: the project's own and CLBlast's. At exit it
// writes one JSON object to $CL_COUNTER_OUTPUT (or standard error):
//   launches        clEnqueueNDRangeKernel / clEnqueueTask calls
//   small_launches  launches of at most 16 work-items
//   copies          device-to-device copies and fills
//   writes, reads   host-to-device and device-to-host transfers (and maps)
//   host_waits      blocking writes/reads/maps, clFinish and clWaitForEvents
//   bytes_written, bytes_read
// With CL_COUNTER_SMALL=1 it also prints each small launch's kernel name and size to stderr.
// Build and use: Tools/count-cl-calls.sh COMMAND...
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long launches, small_launches, copies, writes, reads, host_waits, bytes_written, bytes_read;

#define REAL(name) \
    static __typeof__(&name) real = NULL; \
    if (!real) real = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

cl_int clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dimensions, const size_t *offset,
                              const size_t *global, const size_t *local, cl_uint waits, const cl_event *wait_list,
                              cl_event *event) {
    REAL(clEnqueueNDRangeKernel);
    size_t items = 1;
    for (cl_uint d = 0; d < dimensions; d++) items *= global[d];
    atomic_fetch_add(&launches, 1);
    if (items <= 16) {
        atomic_fetch_add(&small_launches, 1);
        if (getenv("CL_COUNTER_SMALL")) {
            char name[128] = "?";
            clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
            fprintf(stderr, "cl-counter: small launch %s of %zu work-items\n", name, items);
        }
    }
    return real(queue, kernel, dimensions, offset, global, local, waits, wait_list, event);
}

cl_int clEnqueueTask(cl_command_queue queue, cl_kernel kernel, cl_uint waits, const cl_event *wait_list, cl_event *event) {
    REAL(clEnqueueTask);
    atomic_fetch_add(&launches, 1);
    atomic_fetch_add(&small_launches, 1);
    return real(queue, kernel, waits, wait_list, event);
}

cl_int clEnqueueCopyBuffer(cl_command_queue queue, cl_mem source, cl_mem destination, size_t source_offset,
                           size_t destination_offset, size_t size, cl_uint waits, const cl_event *wait_list, cl_event *event) {
    REAL(clEnqueueCopyBuffer);
    atomic_fetch_add(&copies, 1);
    return real(queue, source, destination, source_offset, destination_offset, size, waits, wait_list, event);
}

cl_int clEnqueueCopyBufferRect(cl_command_queue queue, cl_mem source, cl_mem destination, const size_t *source_origin,
                               const size_t *destination_origin, const size_t *region, size_t source_row_pitch,
                               size_t source_slice_pitch, size_t destination_row_pitch, size_t destination_slice_pitch,
                               cl_uint waits, const cl_event *wait_list, cl_event *event) {
    REAL(clEnqueueCopyBufferRect);
    atomic_fetch_add(&copies, 1);
    return real(queue, source, destination, source_origin, destination_origin, region, source_row_pitch,
                source_slice_pitch, destination_row_pitch, destination_slice_pitch, waits, wait_list, event);
}

cl_int clEnqueueFillBuffer(cl_command_queue queue, cl_mem buffer, const void *pattern, size_t pattern_size, size_t offset,
                           size_t size, cl_uint waits, const cl_event *wait_list, cl_event *event) {
    REAL(clEnqueueFillBuffer);
    atomic_fetch_add(&copies, 1);
    return real(queue, buffer, pattern, pattern_size, offset, size, waits, wait_list, event);
}

cl_int clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset, size_t size,
                            const void *pointer, cl_uint waits, const cl_event *wait_list, cl_event *event) {
    REAL(clEnqueueWriteBuffer);
    atomic_fetch_add(&writes, 1);
    atomic_fetch_add(&bytes_written, (long)size);
    if (blocking) atomic_fetch_add(&host_waits, 1);
    return real(queue, buffer, blocking, offset, size, pointer, waits, wait_list, event);
}

cl_int clEnqueueReadBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset, size_t size,
                           void *pointer, cl_uint waits, const cl_event *wait_list, cl_event *event) {
    REAL(clEnqueueReadBuffer);
    atomic_fetch_add(&reads, 1);
    atomic_fetch_add(&bytes_read, (long)size);
    if (blocking) atomic_fetch_add(&host_waits, 1);
    return real(queue, buffer, blocking, offset, size, pointer, waits, wait_list, event);
}

void *clEnqueueMapBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, cl_map_flags flags, size_t offset,
                         size_t size, cl_uint waits, const cl_event *wait_list, cl_event *event, cl_int *status) {
    REAL(clEnqueueMapBuffer);
    atomic_fetch_add(&reads, 1);
    atomic_fetch_add(&bytes_read, (long)size);
    if (blocking) atomic_fetch_add(&host_waits, 1);
    return real(queue, buffer, blocking, flags, offset, size, waits, wait_list, event, status);
}

cl_int clFinish(cl_command_queue queue) {
    REAL(clFinish);
    atomic_fetch_add(&host_waits, 1);
    return real(queue);
}

cl_int clWaitForEvents(cl_uint count, const cl_event *events) {
    REAL(clWaitForEvents);
    atomic_fetch_add(&host_waits, 1);
    return real(count, events);
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("CL_COUNTER_OUTPUT");
    FILE *file = path ? fopen(path, "w") : stderr;
    if (!file) return;
    fprintf(file,
            "{\"launches\": %ld, \"small_launches\": %ld, \"copies\": %ld, \"writes\": %ld, \"reads\": %ld, "
            "\"host_waits\": %ld, \"bytes_written\": %ld, \"bytes_read\": %ld}\n",
            atomic_load(&launches), atomic_load(&small_launches), atomic_load(&copies), atomic_load(&writes),
            atomic_load(&reads), atomic_load(&host_waits), atomic_load(&bytes_written), atomic_load(&bytes_read));
    if (path) fclose(file);
}
