// Axis permutation of a tensor of rank <= 6 (split and merge heads, QKV unpacking).
// The output is padded to rank 6 with leading 1s: sizes s0..s5 are the output's, and
// t0..t5 the input strides of the matching axes. One work-item per output element.
// CPU counterpart: CPUBackend+Layout.swift.

__kernel void permute_forward(__global const float *input, __global float *output, const int n,
                              const int s0, const int s1, const int s2, const int s3, const int s4, const int s5,
                              const int t0, const int t1, const int t2, const int t3, const int t4, const int t5) {
    const int i = get_global_id(0);
    if (i >= n) return;
    int rest = i;
    const int c5 = rest % s5; rest /= s5;
    const int c4 = rest % s4; rest /= s4;
    const int c3 = rest % s3; rest /= s3;
    const int c2 = rest % s2; rest /= s2;
    const int c1 = rest % s1; rest /= s1;
    const int c0 = rest;
    output[i] = input[c0 * t0 + c1 * t1 + c2 * t2 + c3 * t3 + c4 * t4 + c5 * t5];
}
