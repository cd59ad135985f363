// Depthwise convolution along the token axis: Nystromformer's residual on V. Legend:
// input [batch, channels, tokens, width] (channels = heads, width = head size), weight
// [channels, taps] with odd taps; tap t reads token n + t - taps / 2, zero outside.
//
// sequence_convolution_forward:         one work-item per output element; `reversed` reads
//                                       the taps backwards (the input gradient).
// sequence_convolution_weight_gradient: one work-group per (channel, tap), summing
//                                       dY[b, h, n, d] X[b, h, n + shift, d] over b and the
//                                       overlapping rows, which are contiguous per image.
// CPU counterpart: Sources/ViTCPU/CPUBackend+SequenceConvolution.swift.

__kernel void sequence_convolution_forward(__global const float *input, __global const float *weight, __global float *output,
                                           const int count, const int channels, const int tokens, const int width,
                                           const int taps, const int reversed) {
    const int e = get_global_id(0);
    if (e >= count) return;
    const int d = e % width;
    const int n = (e / width) % tokens;
    const int item = e / (width * tokens);
    const int channel = item % channels;
    __global const float *source = input + (size_t)item * tokens * width + d;
    float total = 0.0f;
    for (int tap = 0; tap < taps; tap++) {
        const int row = n + tap - taps / 2;
        if (row < 0 || row >= tokens) continue;
        total += weight[channel * taps + (reversed ? taps - 1 - tap : tap)] * source[row * width];
    }
    output[e] = total;
}

__kernel void sequence_convolution_weight_gradient(__global const float *output_gradient, __global const float *input,
                                                   __global float *weight_gradient, const int batch, const int channels,
                                                   const int tokens, const int width, const int taps, __local float *scratch) {
    const int entry = get_group_id(0);
    const int channel = entry / taps;
    const int shift = entry % taps - taps / 2;
    const int first = max(0, -shift);
    const int last = min(tokens, tokens - shift);
    const int length = max(0, last - first) * width;
    float total = 0.0f;
    for (int image = 0; image < batch; image++) {
        const size_t offset = ((size_t)image * channels + channel) * tokens * width;
        __global const float *dy = output_gradient + offset + first * width;
        __global const float *x = input + offset + (first + shift) * width;
        for (int i = get_local_id(0); i < length; i += get_local_size(0)) total += dy[i] * x[i];
    }
    total = group_sum(total, scratch);
    if (get_local_id(0) == 0) weight_gradient[entry] = total;
}
