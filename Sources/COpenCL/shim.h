// The project targets the OpenCL 1.2 API: every vendor's driver (NVIDIA's included) has it.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
