// Hot loops of the forward pass in C, so that they can be compiled for AVX2+FMA and
// chosen at run time (a plain `swift build` targets baseline x86-64, where Swift's SIMD
// types become library calls), for Mien and for any package that depends on it.
#ifndef MIEN_CKERNELS_H
#define MIEN_CKERNELS_H

/// The geometry of a window op over an NHWC input, with its padding resolved.
typedef struct {
    int batch, height, width, channels;
    int kernel_height, kernel_width;
    int stride_height, stride_width;
    int dilation_height, dilation_width;
    int pad_top, pad_left;
    int output_height, output_width;
} mien_window;

/// Depthwise convolution with depth multiplier 1 of NHWC `x` by an HWC `kernel`, plus
/// `bias` (may be NULL), each result clamped to `[lower, upper]` (ReLU, ReLU6, or ±∞ for
/// none), written to `y` (`[batch, output_height, output_width, channels]`). Taps outside
/// the image read zero.
void mien_depthwise_conv2d(const float *x, const float *kernel, const float *bias, float *y,
                           const mien_window *window, float lower, float upper);

/// The backward pass of `mien_depthwise_conv2d` (before its activation) over images
/// [first, last): adds the input gradient into `dx` and the kernel gradient into `dkernel`
/// (either may be NULL) from the output gradient `dz`.
void mien_depthwise_conv2d_backward(const float *x, const float *kernel, const float *dz, float *dx,
                                    float *dkernel, const mien_window *window, int first, int last);

/// Convolution of NHWC `x` by an HWIO `kernel` (`[kh, kw, channels, filters]`) computed
/// directly, one output pixel at a time, plus `bias` (may be NULL), clamped to
/// `[lower, upper]`. For inputs with few channels (a network's stem on RGB pixels), where
/// im2col and a matrix product with K = kh·kw·channels is a poor fit for sgemm.
void mien_conv2d_direct(const float *x, const float *kernel, const float *bias, float *y,
                        const mien_window *window, int filters, float lower, float upper);

/// 1 when the kernels run their AVX2+FMA versions on this CPU, 0 for the portable ones.
int mien_kernels_use_avx2(void);

/// With 1, the portable versions run even where AVX2+FMA is available (tests compare the
/// two); with 0, the choice is made from the CPU's flags again.
void mien_kernels_use_portable(int portable);

#endif
