#include "ImageCodecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static int fail(char *error, size_t error_size, const char *message) {
    snprintf(error, error_size, "%s", message);
    return 1;
}

void *vit_jpeg_create(void) { return tjInitDecompress(); }

void vit_jpeg_destroy(void *decoder) {
    if (decoder) tjDestroy(decoder);
}

int vit_jpeg_header(void *decoder, const uint8_t *data, size_t size, vit_image_header *header,
                    char *error, size_t error_size) {
    int width = 0, height = 0, subsampling = 0, colourspace = 0;
    if (size > (size_t)0xffffffffUL) return fail(error, error_size, "the file is larger than 4 GiB");
    if (tjDecompressHeader3(decoder, data, (unsigned long)size, &width, &height, &subsampling, &colourspace) != 0) {
        return fail(error, error_size, tjGetErrorStr2(decoder));
    }
    header->width = width;
    header->height = height;
    header->colour = colourspace == TJCS_GRAY ? VIT_COLOUR_GRAY
                     : (colourspace == TJCS_CMYK || colourspace == TJCS_YCCK) ? VIT_COLOUR_CMYK
                                                                              : VIT_COLOUR_RGB;
    return 0;
}

int vit_jpeg_scaling_factor_count(void) {
    int count = 0;
    tjGetScalingFactors(&count);
    return count;
}

void vit_jpeg_scaling_factor(int index, int *numerator, int *denominator) {
    int count = 0;
    tjscalingfactor *factors = tjGetScalingFactors(&count);
    *numerator = factors[index].num;
    *denominator = factors[index].denom;
}

int vit_jpeg_scaled(int length, int numerator, int denominator) {
    tjscalingfactor factor = {numerator, denominator};
    return TJSCALED(length, factor);
}

/// Pillow's (a * b + 128) / 255 rounding, MULDIV255 in its Convert.c.
static inline int multiply_divide_255(int a, int b) {
    int product = a * b + 128;
    return ((product >> 8) + product) >> 8;
}

/// Pillow's luma, L24 in its Convert.c: (299 R + 587 G + 114 B) / 1000 in 16-bit fixed point.
static inline uint8_t luma(int red, int green, int blue) {
    return (uint8_t)((red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16);
}

/// Inverted (Adobe) CMYK to RGB or L, as Pillow's CMYK;I unpacker followed by cmyk2rgb.
static void convert_cmyk(const uint8_t *cmyk, size_t pixels, int channels, uint8_t *output) {
    for (size_t index = 0; index < pixels; index++) {
        const uint8_t *value = cmyk + index * 4;
        // The file stores 255 - ink; Pillow's cmyk2rgb scales each 255 - ink by 255 - black.
        int keep = value[3];
        int rgb[3];
        for (int component = 0; component < 3; component++) {
            int ink = 255 - value[component];
            int level = keep - multiply_divide_255(ink, keep);
            rgb[component] = level < 0 ? 0 : level;
        }
        if (channels == 3) {
            output[index * 3 + 0] = (uint8_t)rgb[0];
            output[index * 3 + 1] = (uint8_t)rgb[1];
            output[index * 3 + 2] = (uint8_t)rgb[2];
        } else {
            output[index] = luma(rgb[0], rgb[1], rgb[2]);
        }
    }
}

int vit_jpeg_decode(void *decoder, const uint8_t *data, size_t size, int numerator, int denominator,
                    int channels, uint8_t *pixels, uint8_t *scratch, char *error, size_t error_size) {
    vit_image_header header;
    if (vit_jpeg_header(decoder, data, size, &header, error, error_size) != 0) return 1;
    tjscalingfactor factor = {numerator, denominator};
    int width = TJSCALED(header.width, factor), height = TJSCALED(header.height, factor);
    int format;
    uint8_t *target = pixels;
    if (header.colour == VIT_COLOUR_CMYK) {
        if (!scratch) return fail(error, error_size, "a CMYK JPEG needs a scratch buffer");
        format = TJPF_CMYK;
        target = scratch;
    } else if (header.colour == VIT_COLOUR_GRAY) {
        // Gray to RGB repeats the value, as Pillow's L to RGB does.
        format = channels == 1 ? TJPF_GRAY : TJPF_RGB;
    } else {
        // Decoded to RGB first even for one channel: Pillow's luma of the RGB pixels, not the file's Y.
        format = TJPF_RGB;
        if (channels == 1) {
            if (!scratch) return fail(error, error_size, "an RGB JPEG decoded to gray needs a scratch buffer");
            target = scratch;
        }
    }
    if (tjDecompress2(decoder, data, (unsigned long)size, target, width, 0, height, format, 0) != 0) {
        // libjpeg-turbo reports warnings as failures too; only running out of data is one for
        // Pillow ("image file is truncated"): the rest (extraneous bytes, ...) decode as usual.
        const char *message = tjGetErrorStr2(decoder);
        if (tjGetErrorCode(decoder) != TJERR_WARNING || strstr(message, "Premature end") != NULL) {
            return fail(error, error_size,
                        strstr(message, "Premature end") ? "the file is truncated (premature end of the JPEG data)"
                                                         : message);
        }
    }
    size_t count = (size_t)width * (size_t)height;
    if (format == TJPF_CMYK) {
        convert_cmyk(scratch, count, channels, pixels);
    } else if (format == TJPF_RGB && channels == 1) {
        for (size_t index = 0; index < count; index++) {
            pixels[index] = luma(scratch[index * 3], scratch[index * 3 + 1], scratch[index * 3 + 2]);
        }
    }
    return 0;
}

int vit_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality, int subsampling,
                    uint8_t **output, size_t *output_size, char *error, size_t error_size) {
    static const int formats[5] = {0, TJPF_GRAY, 0, TJPF_RGB, TJPF_CMYK};
    static const int samplings[3] = {TJSAMP_444, TJSAMP_422, TJSAMP_420};
    if (components != 1 && components != 3 && components != 4) return fail(error, error_size, "components must be 1, 3 or 4");
    if (subsampling < 0 || subsampling > 2) return fail(error, error_size, "subsampling must be 0, 1 or 2");
    tjhandle encoder = tjInitCompress();
    if (!encoder) return fail(error, error_size, "cannot create a TurboJPEG compressor");
    unsigned char *buffer = NULL;
    unsigned long length = 0;
    int sampling = components == 1 ? TJSAMP_GRAY : samplings[subsampling];
    int status = tjCompress2(encoder, pixels, width, 0, height, formats[components], &buffer, &length, sampling, quality, 0);
    if (status != 0) {
        fail(error, error_size, tjGetErrorStr2(encoder));
        tjFree(buffer);
        tjDestroy(encoder);
        return 1;
    }
    tjDestroy(encoder);
    // Copied so that one free() releases what either encoder returns.
    *output = malloc(length);
    if (!*output) {
        tjFree(buffer);
        return fail(error, error_size, "out of memory");
    }
    memcpy(*output, buffer, length);
    *output_size = length;
    tjFree(buffer);
    return 0;
}

void vit_codec_free(void *buffer) { free(buffer); }
