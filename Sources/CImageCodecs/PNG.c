#include "ImageCodecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// The state libpng's callbacks share: the bytes being read and where an error goes.
typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    char *error;
    size_t error_size;
} png_source;

static int fail(char *error, size_t error_size, const char *message) {
    snprintf(error, error_size, "%s", message);
    return 1;
}

static void read_bytes(png_structp png, png_bytep destination, png_size_t length) {
    png_source *source = png_get_io_ptr(png);
    if (source->size - source->offset < length) png_error(png, "the file is truncated (premature end of the PNG data)");
    memcpy(destination, source->data + source->offset, length);
    source->offset += length;
}

static void report_error(png_structp png, png_const_charp message) {
    png_source *source = png_get_error_ptr(png);
    snprintf(source->error, source->error_size, "%s", message);
    png_longjmp(png, 1);
}

// libpng's warnings (unknown chunks, bad ancillary CRCs, ...) do not stop Pillow either.
static void ignore_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/// Pillow's luma, L24 in its Convert.c.
static inline uint8_t luma(int red, int green, int blue) {
    return (uint8_t)((red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16);
}

/// Opens `data` for reading up to its header; the caller has called setjmp on `*png`.
static int begin(png_source *source, png_structp *png, png_infop *info) {
    if (source->size < 8 || png_sig_cmp(source->data, 0, 8) != 0) {
        return fail(source->error, source->error_size, "not a PNG file (no PNG signature)");
    }
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, report_error, ignore_warning);
    if (!*png) return fail(source->error, source->error_size, "cannot create a libpng reader");
    *info = png_create_info_struct(*png);
    if (!*info) {
        png_destroy_read_struct(png, NULL, NULL);
        return fail(source->error, source->error_size, "cannot create a libpng reader");
    }
    png_set_read_fn(*png, source, read_bytes);
    return 0;
}

int vit_png_header(const uint8_t *data, size_t size, vit_image_header *header, char *error, size_t error_size) {
    png_source source = {data, size, 0, error, error_size};
    png_structp png = NULL;
    png_infop info = NULL;
    if (begin(&source, &png, &info) != 0) return 1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_read_info(png, info);
    int type = png_get_color_type(png, info);
    header->width = (int)png_get_image_width(png, info);
    header->height = (int)png_get_image_height(png, info);
    header->colour = (type & PNG_COLOR_MASK_COLOR) ? VIT_COLOUR_RGB : VIT_COLOUR_GRAY;
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int vit_png_decode(const uint8_t *data, size_t size, int channels, uint8_t *pixels, char *error, size_t error_size) {
    png_source source = {data, size, 0, error, error_size};
    png_structp png = NULL;
    png_infop info = NULL;
    // volatile: it is set after setjmp and freed on the longjmp path.
    uint8_t *volatile decoded = NULL;
    png_bytep *volatile rows = NULL;
    if (begin(&source, &png, &info) != 0) return 1;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(decoded);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    png_read_info(png, info);
    int type = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    size_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int gray = !(type & PNG_COLOR_MASK_COLOR);
    // Pillow keeps 16-bit gray as 32-bit integers and clips them at 255 on conversion; every
    // other 16-bit image it reads by the high byte, which is what png_set_strip_16 keeps.
    int wide_gray = gray && depth == 16 && !(type & PNG_COLOR_MASK_ALPHA);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (gray && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !wide_gray) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    // Palette expansion also turns a tRNS chunk into alpha: samples per pixel say what came out.
    size_t components = png_get_channels(png, info);
    size_t sample_bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    size_t row_bytes = png_get_rowbytes(png, info);
    decoded = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!decoded || !rows) png_error(png, "out of memory");
    for (size_t row = 0; row < height; row++) rows[row] = decoded + row * row_bytes;
    png_read_image(png, rows);
    free(rows);
    rows = NULL;
    // The chunks after the image data are not read: Pillow does not need them either.
    size_t count = width * height;
    for (size_t index = 0; index < count; index++) {
        // Alpha, where there is any, is the last sample and is dropped without compositing.
        const uint8_t *pixel = decoded + index * components * sample_bytes;
        int red, green, blue;
        if (sample_bytes == 2) {
            int value = (pixel[0] << 8) | pixel[1];
            red = green = blue = value > 255 ? 255 : value;
        } else if (components <= 2) {
            red = green = blue = pixel[0];
        } else {
            red = pixel[0];
            green = pixel[1];
            blue = pixel[2];
        }
        if (channels == 1) {
            pixels[index] = components <= 2 ? (uint8_t)red : luma(red, green, blue);
        } else {
            pixels[index * 3] = (uint8_t)red;
            pixels[index * 3 + 1] = (uint8_t)green;
            pixels[index * 3 + 2] = (uint8_t)blue;
        }
    }
    free(decoded);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/// The growing buffer vit_png_encode writes into.
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} png_sink;

static void write_bytes(png_structp png, png_bytep bytes, png_size_t length) {
    png_sink *sink = png_get_io_ptr(png);
    if (sink->size + length > sink->capacity) {
        size_t capacity = (sink->capacity + length) * 2;
        uint8_t *grown = realloc(sink->data, capacity);
        if (!grown) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, bytes, length);
    sink->size += length;
}

static void flush_nothing(png_structp png) { (void)png; }

int vit_png_encode(const uint8_t *samples, int width, int height, int type, int bit_depth, const uint8_t *palette,
                   int palette_count, uint8_t **output, size_t *output_size, char *error, size_t error_size) {
    int per_pixel = type == VIT_PNG_RGB ? 3 : type == VIT_PNG_RGBA ? 4 : type == VIT_PNG_GRAY_ALPHA ? 2 : 1;
    if (bit_depth != 8 && bit_depth != 16) return fail(error, error_size, "bit depth must be 8 or 16");
    if (type == VIT_PNG_PALETTE && (bit_depth != 8 || palette_count < 1 || palette_count > 256)) {
        return fail(error, error_size, "a palette PNG needs depth 8 and 1 to 256 colours");
    }
    png_source reporter = {NULL, 0, 0, error, error_size};
    png_sink sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &reporter, report_error, ignore_warning);
    if (!png) return fail(error, error_size, "cannot create a libpng writer");
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.data);
        return 1;
    }
    png_set_write_fn(png, &sink, write_bytes, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (type == VIT_PNG_PALETTE) {
        png_color colours[256];
        for (int index = 0; index < palette_count; index++) {
            colours[index].red = palette[index * 3];
            colours[index].green = palette[index * 3 + 1];
            colours[index].blue = palette[index * 3 + 2];
        }
        png_set_PLTE(png, info, colours, palette_count);
    }
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * per_pixel * (bit_depth / 8);
    for (int row = 0; row < height; row++) png_write_row(png, samples + row * row_bytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *output = sink.data;
    *output_size = sink.size;
    return 0;
}
