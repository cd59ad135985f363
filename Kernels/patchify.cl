// Patch embedding's layout change: images [B, C, H, W] to patches [B, P, C*p*p] with
// P = (H/p)(W/p) patches in row-major grid order and each patch in (channel, row, column)
// order, matching a convolution weight [D, C, p, p]; the GEMM with that weight follows.
// One work-item per patch value. CPU counterpart: CPUBackend+Blocks.swift.

// Offset of patch value i in the image batch.
inline int pixel_of(const int i, const int channels, const int height, const int width, const int patch) {
    const int patch_size = channels * patch * patch;
    const int columns = width / patch;
    const int patches = (height / patch) * columns;
    const int within = i % patch_size;
    const int patch_index = (i / patch_size) % patches;
    const int image = i / (patch_size * patches);
    const int channel = within / (patch * patch);
    const int row = (within / patch) % patch;
    const int column = within % patch;
    const int y = (patch_index / columns) * patch + row;
    const int x = (patch_index % columns) * patch + column;
    return ((image * channels + channel) * height + y) * width + x;
}

__kernel void patchify_forward(__global const float *images, __global float *patches, const int n, const int channels,
                               const int height, const int width, const int patch) {
    const int i = get_global_id(0);
    if (i < n) patches[i] = images[pixel_of(i, channels, height, width, patch)];
}

__kernel void patchify_backward(__global const float *patches, __global float *images, const int n, const int channels,
                                const int height, const int width, const int patch) {
    const int i = get_global_id(0);
    if (i < n) images[pixel_of(i, channels, height, width, patch)] = patches[i];
}
