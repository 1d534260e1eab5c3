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

/// PReLU with one slope per channel: each of `rows` rows of `channels` values `v` in `x`
/// gives `v > 0 ? v : v · alpha[c]` in `y` (not `x`: the two must not overlap).
void mien_prelu_channels(const float *x, float *y, long rows, int channels, const float *alpha);

/// `out[j] += in[j] · weight` for `count` bytes `in` (the AREA resize's vertical pass).
void mien_accumulate_bytes(float *out, const unsigned char *in, long count, float weight);

/// Max (`average` 0) or average pooling of NHWC `x` over `window`'s cells (dilation 1),
/// written to `y` (`[batch, output_height, output_width, channels]`). Padded cells take no
/// part: the average divides by the real cells under the window, as TensorFlow does.
void mien_pool2d(const float *x, float *y, const mien_window *window, int average);

/// Floats that `mien_pack_weights` writes for a `[k, n]` weight matrix: its bias and its
/// columns in panels of 16, each zero-padded.
long mien_packed_weights_size(int k, int n);

/// Packs a row-major `[k, n]` matrix `w` and its `bias` (may be NULL: zeros) once, into the
/// layout `mien_gemm_packed` reads: the bias padded to a multiple of 16, then for each
/// panel of 16 columns its `k` rows of 16 values.
void mien_pack_weights(const float *w, const float *bias, int k, int n, float *packed);

/// `y[i, j] = clamp(Σ_l a[i, l]·w[l, j] + bias[j], lower, upper) + residual[i, j]` for
/// `m` rows: a row-major `a` (`lda` floats from row to row) times weights packed by
/// `mien_pack_weights`, with the bias, a clamp activation (ReLU, ReLU6, ±∞ for none) and a
/// residual add (`residual` may be NULL) applied while each tile is still in registers.
/// A 1×1 convolution over NHWC pixels is this product with no copy of the activations.
/// `y` must not overlap `a` or `residual`: with k > 192 it holds partial sums.
void mien_gemm_packed(const float *a, long lda, int m, int k, const float *packed, int n,
                      float lower, float upper, const float *residual, long ldr, float *y, long ldy);

/// An inverted-residual block (MobileNetV2, EfficientNet's MBConv) at inference: an
/// optional 1×1 expansion, a depthwise convolution (depth multiplier 1, dilation 1), a 1×1
/// projection and an optional residual add of the block's input, each with its bias and
/// clamp activation. Weights are packed by `mien_pack_weights` (the depthwise kernel is
/// `[kernel_height, kernel_width, expanded]` as Keras stores it, with a bias of `expanded`,
/// never NULL). `kernel_height` is at most 64; callers check (`InvertedResidualBlock`).
typedef struct {
    int height, width, in_channels;      // the block's input image
    int expanded, out_channels;          // expanded == in_channels when there is no expansion
    int kernel_height, kernel_width, stride_height, stride_width, pad_top, pad_left;
    int output_height, output_width;
    const float *expand;                 // packed [in_channels, expanded], or NULL
    float expand_lower, expand_upper;
    const float *depthwise, *depthwise_bias;
    float depthwise_lower, depthwise_upper;
    const float *project;                // packed [expanded, out_channels]
    float project_lower, project_upper;
    int residual;                        // 1: add the input (same shape as the output)
} mien_mbconv;

/// Output rows computed together (enough pixels for the projection's product to reuse
/// its weights), and the scratch floats one `mien_mbconv_rows` call needs.
int mien_mbconv_band_rows(const mien_mbconv *block);
long mien_mbconv_scratch_size(const mien_mbconv *block);

/// Output rows [first_row, last_row) of one image `x` (`[height, width, in_channels]`) into
/// `y` (`[output_height, output_width, out_channels]`, the whole image). The expanded
/// activation exists only as a ring of the rows the depthwise window needs, in `scratch`
/// (`mien_mbconv_scratch_size` floats, one per concurrent call), so it never goes to memory.
void mien_mbconv_rows(const mien_mbconv *block, const float *x, float *y, int first_row, int last_row,
                      float *scratch);

/// The block on `images` whole images at once (`x`, `y` as in `mien_mbconv_rows`, one image
/// after another), with every tensor in `scratch` (`mien_mbconv_images_scratch_size`
/// floats): for small maps (7×7, 3×3), where one image's rows are too few for the 1×1
/// products to reuse their weights, so that several images share each pass over them.
long mien_mbconv_images_scratch_size(const mien_mbconv *block, int images);
void mien_mbconv_images(const mien_mbconv *block, const float *x, float *y, int images, float *scratch);

/// The instruction sets of the kernels' builds.
enum { MIEN_LEVEL_PORTABLE = 0, MIEN_LEVEL_AVX2 = 1, MIEN_LEVEL_AVX512 = 2 };

/// The build the kernels run on this CPU: the best it supports, at most the limit set by
/// `mien_kernels_limit_level`.
int mien_kernels_level(void);

/// Runs builds up to `most` (a `MIEN_LEVEL_…`) even where the CPU could run a better one,
/// so tests compare every build; -1 lifts the limit.
void mien_kernels_limit_level(int most);

/// 1 when the kernels run their AVX2+FMA (or AVX-512) versions on this CPU, 0 for the portable ones.
int mien_kernels_use_avx2(void);

/// With 1, the portable versions run even where AVX2+FMA is available (tests compare the
/// two); with 0, the choice is made from the CPU's flags again.
void mien_kernels_use_portable(int portable);

#endif
