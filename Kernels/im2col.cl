// 2D convolution as im2col + GEMM (the GEMM is CLBlast's): the convolutional stem of patch
// embedding. Legend: images channels-last [batch, height, width, channels]; a square kernel
// of `kernel_size` taps per side, `stride`, zero `padding` on every side; output grid
// out_height x out_width. The column matrix is [batch * out_height * out_width, channels *
// kernel_size * kernel_size], each row one output pixel's receptive field in (channel,
// row, column) order, the layout of a convolution weight [out, channels, k, k].
//
// im2col: one work-item per column entry (writes are contiguous along the row).
// col2im: im2col's adjoint, one work-item per input pixel value gathering every column
//         entry that copied it (at most ceil(k / stride)^2), so overlapping receptive
//         fields add without atomics or races.
// CPU counterpart: Sources/ViTCPU/CPUBackend+Convolution.swift.

__kernel void im2col(__global const float *input, __global float *columns, const int count, const int height, const int width,
                     const int channels, const int kernel_size, const int stride, const int padding, const int out_height,
                     const int out_width) {
    const int e = get_global_id(0);
    if (e >= count) return;
    const int column = e % kernel_size;
    const int row = (e / kernel_size) % kernel_size;
    const int channel = (e / (kernel_size * kernel_size)) % channels;
    const int pixel = e / (kernel_size * kernel_size * channels);
    const int ox = pixel % out_width;
    const int oy = (pixel / out_width) % out_height;
    const int image = pixel / (out_width * out_height);
    const int y = oy * stride - padding + row;
    const int x = ox * stride - padding + column;
    const bool inside = y >= 0 && y < height && x >= 0 && x < width;
    columns[e] = inside ? input[(((size_t)image * height + y) * width + x) * channels + channel] : 0.0f;
}

__kernel void col2im(__global const float *columns, __global float *output, const int count, const int height, const int width,
                     const int channels, const int kernel_size, const int stride, const int padding, const int out_height,
                     const int out_width) {
    const int e = get_global_id(0);
    if (e >= count) return;
    const int channel = e % channels;
    const int x = (e / channels) % width;
    const int y = (e / (channels * width)) % height;
    const int image = e / (channels * width * height);
    const int column_size = channels * kernel_size * kernel_size;
    float total = 0.0f;
    for (int row = 0; row < kernel_size; row++) {
        const int shifted_y = y + padding - row;
        if (shifted_y < 0 || shifted_y % stride != 0 || shifted_y / stride >= out_height) continue;
        for (int column = 0; column < kernel_size; column++) {
            const int shifted_x = x + padding - column;
            if (shifted_x < 0 || shifted_x % stride != 0 || shifted_x / stride >= out_width) continue;
            const size_t pixel = ((size_t)image * out_height + shifted_y / stride) * out_width + shifted_x / stride;
            total += columns[pixel * column_size + (channel * kernel_size + row) * kernel_size + column];
        }
    }
    output[e] = total;
}
