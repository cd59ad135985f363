#ifndef C_IMAGE_CODECS_H
#define C_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

// The image-folder pipeline's C layer: JPEG through libjpeg-turbo's TurboJPEG API, PNG
// through libpng (both need setjmp/longjmp or C structures that Swift cannot hold), and
// Pillow's resampling, whose fixed-point arithmetic is reproduced exactly so that the
// pipeline's pixels are torchvision's. Every function returns 0 on success; on failure it
// returns non-zero and writes a one-sentence cause into `error` (at most `error_size` bytes).

/// Colour models a decoded image can have before the conversion to RGB or grayscale.
enum vit_colour {
    VIT_COLOUR_GRAY = 1,
    VIT_COLOUR_RGB = 3,
    VIT_COLOUR_CMYK = 4,
};

/// A file's size and colour model, read from its header without decoding the pixels.
typedef struct {
    int width;
    int height;
    /// One of vit_colour: what the file stores (palette and alpha PNGs count as RGB).
    int colour;
} vit_image_header;

/// A TurboJPEG decompressor, one per decoding thread (NULL when it cannot be made).
void *vit_jpeg_create(void);
void vit_jpeg_destroy(void *decoder);

/// The header of the JPEG `data[0..<size]`.
int vit_jpeg_header(void *decoder, const uint8_t *data, size_t size, vit_image_header *header,
                    char *error, size_t error_size);

/// The DCT scaling factors libjpeg-turbo decodes at, numerators over denominators,
/// `*count` of them, largest first.
int vit_jpeg_scaling_factor_count(void);
void vit_jpeg_scaling_factor(int index, int *numerator, int *denominator);
/// The side `length` pixels have when decoded at numerator / denominator (TJSCALED).
int vit_jpeg_scaled(int length, int numerator, int denominator);

/// Decodes the JPEG at numerator / denominator of its size into `pixels`: `channels` (1 or 3)
/// bytes per pixel, rows of scaled width, as Pillow's `convert("L")` / `convert("RGB")`
/// give them (CMYK and YCCK files are taken as Adobe's inverted CMYK, as Pillow does).
/// `pixels` has room for scaled width * height * channels bytes; `scratch`, for CMYK files,
/// room for scaled width * height * 4 (NULL otherwise). A truncated file is an error;
/// libjpeg's other warnings (extraneous bytes, for one) are not, as in Pillow.
int vit_jpeg_decode(void *decoder, const uint8_t *data, size_t size, int numerator, int denominator,
                    int channels, uint8_t *pixels, uint8_t *scratch, char *error, size_t error_size);

/// The header of the PNG `data[0..<size]`.
int vit_png_header(const uint8_t *data, size_t size, vit_image_header *header, char *error, size_t error_size);

/// Decodes the PNG into `pixels` (width * height * channels bytes, channels 1 or 3) as
/// Pillow's `convert` gives it: palettes and low bit depths expanded, alpha and transparency
/// dropped without compositing, 16-bit colour cut to its high byte and 16-bit gray clipped
/// at 255 (Pillow reads it as 32-bit integers and clips).
int vit_png_decode(const uint8_t *data, size_t size, int channels, uint8_t *pixels, char *error, size_t error_size);

/// Writes `pixels` (width * height * components bytes: 1 gray, 3 RGB, 4 CMYK) as a JPEG of
/// `quality` with chroma subsampling `subsampling` (0: 4:4:4, 1: 4:2:2, 2: 4:2:0), into a
/// buffer the caller frees with vit_codec_free.
int vit_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality, int subsampling,
                    uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// PNG colour types vit_png_encode writes (libpng's values).
enum vit_png_type {
    VIT_PNG_GRAY = 0,
    VIT_PNG_RGB = 2,
    VIT_PNG_PALETTE = 3,
    VIT_PNG_GRAY_ALPHA = 4,
    VIT_PNG_RGBA = 6,
};

/// Writes a PNG of colour type `type` and `bit_depth` (8 or 16; palette: 8) from `samples`:
/// width * height * samples-per-pixel values, big-endian 16-bit pairs at depth 16; for a
/// palette, `samples` are indices and `palette` has `palette_count` RGB triples. The buffer
/// is freed with vit_codec_free.
int vit_png_encode(const uint8_t *samples, int width, int height, int type, int bit_depth, const uint8_t *palette,
                   int palette_count, uint8_t **output, size_t *output_size, char *error, size_t error_size);

/// Frees a buffer an encoder returned.
void vit_codec_free(void *buffer);

/// Pillow's resampling filters.
enum vit_filter {
    VIT_FILTER_BILINEAR = 2,
    VIT_FILTER_BICUBIC = 3,
};

/// Resamples the region `box` (x0, y0, x1, y1, in pixels of `source`) of a `width` x `height`
/// image of `channels` interleaved bytes per pixel (rows `stride` bytes apart) to
/// `output_width` x `output_height`, exactly as Pillow's `Image.resize(size, filter, box)`
/// (antialiased: the filter widens with the reduction), but computes only the window of
/// `window_width` x `window_height` output pixels from (`window_x`, `window_y`), written
/// into `output` rows of window_width * channels bytes. Crop-then-resize is this call on
/// the crop's pixels with the box covering them.
int vit_resample(const uint8_t *source, int width, int height, ptrdiff_t stride, int channels, const double box[4],
                 int output_width, int output_height, int window_x, int window_y, int window_width, int window_height,
                 int filter, uint8_t *output, char *error, size_t error_size);

#endif
