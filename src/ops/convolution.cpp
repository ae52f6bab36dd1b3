// 2-D convolution and its two adjoints. With Xcol the unfolded input (im2col) and W2 the
// weight as an (O, C kH kW) matrix, a convolution is the linear layer Y = W2 Xcol + b per
// image, so (docs/ops.md, Convolution):
//
//   dX = col2im(W2^T dYcol) = conv2d_input_grad(dY, W)
//   dW = dYcol Xcol^T       = conv2d_weight_grad(X, dY)
//   db = sum of dY over batch, height and width
//
// The three ops are each other's adjoints, so each one's gradient is written with the
// others: the set is closed under differentiation, to any order. Float runs on oneDNN's
// convolution primitives (forward, backward-data, backward-weights), double on im2col and
// GEMM (oneDNN has no double convolution).

#include "engine/gemm.hpp"
#include "tapegrad/function.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <functional>
#include <unordered_map>

namespace tapegrad {

using namespace detail; // the vocabulary of closures: reshape, sum_keepdims, conv2d on arrays

namespace detail {

namespace {

/// The sizes of one convolution, checked.
struct ConvGeometry {
    std::size_t n, c, h, w; // input
    std::size_t o, kh, kw;  // weight (O, C, kH, kW)
    std::size_t ho, wo;     // output
    Conv2dOptions options;

    std::size_t unfolded_rows() const { return c * kh * kw; }
    std::size_t positions() const { return ho * wo; }
};

std::string describe(const Conv2dOptions& o) {
    return fmt::format("stride ({}, {}), padding ({}, {}), dilation ({}, {})", o.stride.h,
                       o.stride.w, o.padding.h, o.padding.w, o.dilation.h, o.dilation.w);
}

/// Output extent along one axis, or 0 when the (dilated) kernel is larger than the padded
/// input.
std::size_t output_extent(std::size_t in, std::size_t kernel, std::size_t stride,
                          std::size_t padding, std::size_t dilation) {
    const std::size_t span = dilation * (kernel - 1) + 1;
    if (in + 2 * padding < span) return 0;
    return (in + 2 * padding - span) / stride + 1;
}

ConvGeometry geometry(const char* op, const Shape& x, const Shape& w,
                      const Conv2dOptions& options) {
    const auto& o = options;
    if (o.stride.h == 0 || o.stride.w == 0 || o.dilation.h == 0 || o.dilation.w == 0) {
        throw ValueError(
            fmt::format("{}: stride and dilation must be at least 1, got {}", op, describe(o)));
    }
    if (x.size() != 4 || w.size() != 4 || x[1] != w[1] || w[2] == 0 || w[3] == 0) {
        throw ShapeError(
            fmt::format("{}: input {} and weight {} do not fit (N, C, H, W) and (O, C, kH, kW)", op,
                        format_shape(x), format_shape(w)));
    }
    ConvGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, o};
    g.ho = output_extent(g.h, g.kh, o.stride.h, o.padding.h, o.dilation.h);
    g.wo = output_extent(g.w, g.kw, o.stride.w, o.padding.w, o.dilation.w);
    if (g.ho == 0 || g.wo == 0) {
        throw ShapeError(
            fmt::format("{}: a kernel of {}x{} with {} is larger than the padded input {}", op,
                        g.kh, g.kw, describe(o), format_shape(x)));
    }
    return g;
}

Shape output_shape(const ConvGeometry& g) {
    return {g.n, g.o, g.ho, g.wo};
}

// ---- double: im2col and GEMM, one image at a time ----

/// cols[(c kH + p) kW + q][i Wo + j] = x[c][i sh - ph + p dh][j sw - pw + q dw], 0 outside.
template <class T> void im2col(const T* image, const ConvGeometry& g, T* cols) {
    const auto& o = g.options;
    for (std::size_t c = 0; c < g.c; ++c)
        for (std::size_t p = 0; p < g.kh; ++p)
            for (std::size_t q = 0; q < g.kw; ++q, cols += g.positions())
                for (std::size_t i = 0; i < g.ho; ++i) {
                    const auto row = std::ptrdiff_t(i * o.stride.h + p * o.dilation.h) -
                                     std::ptrdiff_t(o.padding.h);
                    for (std::size_t j = 0; j < g.wo; ++j) {
                        const auto column = std::ptrdiff_t(j * o.stride.w + q * o.dilation.w) -
                                            std::ptrdiff_t(o.padding.w);
                        const bool inside = row >= 0 && row < std::ptrdiff_t(g.h) && column >= 0 &&
                                            column < std::ptrdiff_t(g.w);
                        cols[i * g.wo + j] =
                            inside ? image[(c * g.h + std::size_t(row)) * g.w + std::size_t(column)]
                                   : T(0);
                    }
                }
}

/// The adjoint of im2col: adds each column entry back onto the pixel it came from.
template <class T> void col2im_add(const T* cols, const ConvGeometry& g, T* image) {
    const auto& o = g.options;
    for (std::size_t c = 0; c < g.c; ++c)
        for (std::size_t p = 0; p < g.kh; ++p)
            for (std::size_t q = 0; q < g.kw; ++q, cols += g.positions())
                for (std::size_t i = 0; i < g.ho; ++i) {
                    const auto row = std::ptrdiff_t(i * o.stride.h + p * o.dilation.h) -
                                     std::ptrdiff_t(o.padding.h);
                    if (row < 0 || row >= std::ptrdiff_t(g.h)) continue;
                    for (std::size_t j = 0; j < g.wo; ++j) {
                        const auto column = std::ptrdiff_t(j * o.stride.w + q * o.dilation.w) -
                                            std::ptrdiff_t(o.padding.w);
                        if (column >= 0 && column < std::ptrdiff_t(g.w))
                            image[(c * g.h + std::size_t(row)) * g.w + std::size_t(column)] +=
                                cols[i * g.wo + j];
                    }
                }
}

void forward_im2col(const double* x, const double* w, const double* b, const ConvGeometry& g,
                    double* y) {
    std::vector<double> cols(g.unfolded_rows() * g.positions());
    for (std::size_t n = 0; n < g.n; ++n) {
        im2col(x + n * g.c * g.h * g.w, g, cols.data());
        double* out = y + n * g.o * g.positions();
        gemm(Transpose::no, Transpose::no, g.o, g.positions(), g.unfolded_rows(), 1.0, w,
             cols.data(), 0.0, out);
        if (b)
            for (std::size_t k = 0; k < g.o; ++k)
                for (std::size_t l = 0; l < g.positions(); ++l) out[k * g.positions() + l] += b[k];
    }
}

void backward_data_im2col(const double* dy, const double* w, const ConvGeometry& g, double* dx) {
    std::vector<double> cols(g.unfolded_rows() * g.positions());
    std::fill_n(dx, g.n * g.c * g.h * g.w, 0.0);
    for (std::size_t n = 0; n < g.n; ++n) {
        gemm(Transpose::yes, Transpose::no, g.unfolded_rows(), g.positions(), g.o, 1.0, w,
             dy + n * g.o * g.positions(), 0.0, cols.data());
        col2im_add(cols.data(), g, dx + n * g.c * g.h * g.w);
    }
}

void backward_weights_im2col(const double* x, const double* dy, const ConvGeometry& g, double* dw) {
    std::vector<double> cols(g.unfolded_rows() * g.positions());
    for (std::size_t n = 0; n < g.n; ++n) {
        im2col(x + n * g.c * g.h * g.w, g, cols.data());
        gemm(Transpose::no, Transpose::yes, g.o, g.unfolded_rows(), g.positions(), 1.0,
             dy + n * g.o * g.positions(), cols.data(), n == 0 ? 0.0 : 1.0, dw);
    }
}

// ---- float: oneDNN's convolution primitives, made once per shape and kept ----

using dnnl::memory;
using Dims = memory::dims;

struct Key {
    std::array<std::int64_t, 15> sizes;
    bool operator==(const Key& other) const { return sizes == other.sizes; }
};
struct KeyHash {
    std::size_t operator()(const Key& key) const {
        std::size_t h = 0;
        for (std::int64_t v : key.sizes) h = h * 1000003 ^ std::hash<std::int64_t>()(v);
        return h;
    }
};

/// A primitive is made for the thread count of its time (its work split and scratchpad) and
/// must run with that count, so the count is part of the key.
Key key_of(const ConvGeometry& g, bool bias) {
    const auto& o = g.options;
    return {{std::int64_t(g.n), std::int64_t(g.c), std::int64_t(g.h), std::int64_t(g.w),
             std::int64_t(g.o), std::int64_t(g.kh), std::int64_t(g.kw), std::int64_t(o.stride.h),
             std::int64_t(o.stride.w), std::int64_t(o.padding.h), std::int64_t(o.padding.w),
             std::int64_t(o.dilation.h), std::int64_t(o.dilation.w), std::int64_t(bias),
             std::int64_t(omp_get_max_threads())}};
}

/// Plain layouts (NCHW, OIHW): no reorders into and out of oneDNN's blocked formats.
struct Descriptors {
    memory::desc src, weights, bias, dst;
    Dims strides, dilates, padding_l, padding_r;

    Descriptors(const ConvGeometry& g, bool with_bias)
        : src({Dims{dim(g.n), dim(g.c), dim(g.h), dim(g.w)}, memory::data_type::f32,
               memory::format_tag::nchw}),
          weights({Dims{dim(g.o), dim(g.c), dim(g.kh), dim(g.kw)}, memory::data_type::f32,
                   memory::format_tag::oihw}),
          bias(with_bias
                   ? memory::desc({Dims{dim(g.o)}, memory::data_type::f32, memory::format_tag::x})
                   : memory::desc()),
          dst({Dims{dim(g.n), dim(g.o), dim(g.ho), dim(g.wo)}, memory::data_type::f32,
               memory::format_tag::nchw}),
          strides{dim(g.options.stride.h), dim(g.options.stride.w)},
          // oneDNN counts dilation from 0 (no gaps)
          dilates{dim(g.options.dilation.h) - 1, dim(g.options.dilation.w) - 1},
          padding_l{dim(g.options.padding.h), dim(g.options.padding.w)}, padding_r(padding_l) {}

    static memory::dim dim(std::size_t n) { return static_cast<memory::dim>(n); }
    dnnl::convolution_forward::primitive_desc forward(const dnnl::engine& engine) const {
        return {{dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src,
                 weights, bias, dst, strides, dilates, padding_l, padding_r},
                scratch_by_caller(),
                engine};
    }
    /// The primitives' working memory comes from the caller (Primitives::scratchpad), reused
    /// from call to call: left to oneDNN, the large buffers of its GEMM-based kernels would
    /// be mapped and page-faulted in afresh on every call.
    static dnnl::primitive_attr scratch_by_caller() {
        dnnl::primitive_attr attributes;
        attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        return attributes;
    }
};

/// A primitive and the working memory it needs.
template <class Primitive> struct Prepared {
    Primitive primitive;
    memory::desc scratchpad;
};

struct Primitives {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    std::unordered_map<Key, Prepared<dnnl::convolution_forward>, KeyHash> forward;
    std::unordered_map<Key, Prepared<dnnl::convolution_backward_data>, KeyHash> backward_data;
    std::unordered_map<Key, Prepared<dnnl::convolution_backward_weights>, KeyHash> backward_weights;
    std::vector<char> scratch; // grown to the largest scratchpad any primitive asked for

    /// The scratchpad argument for a primitive that needs `desc`.
    memory scratchpad(const memory::desc& desc) {
        if (scratch.size() < desc.get_size()) scratch.resize(desc.get_size());
        return memory(desc, engine, scratch.data());
    }

    static Primitives& of_this_thread() {
        thread_local Primitives primitives;
        return primitives;
    }
};

memory bind(const memory::desc& desc, const dnnl::engine& engine, const float* data) {
    return memory(desc, engine, const_cast<float*>(data));
}

/// The primitive for `key` in `cache`, made from the description `describe()` returns the
/// first time.
template <class Primitive, class Describe>
const Prepared<Primitive>& prepared(std::unordered_map<Key, Prepared<Primitive>, KeyHash>& cache,
                                    const Key& key, Describe describe) {
    auto found = cache.find(key);
    if (found == cache.end()) {
        const auto pd = describe();
        found = cache.emplace(key, Prepared<Primitive>{Primitive(pd), pd.scratchpad_desc()}).first;
    }
    return found->second;
}

/// A backward primitive (data or weights) of the convolution `d`, hinted by its forward one.
template <class Primitive>
const Prepared<Primitive>&
prepared_backward(std::unordered_map<Key, Prepared<Primitive>, KeyHash>& cache,
                  const ConvGeometry& g, const Descriptors& d, const dnnl::engine& engine) {
    return prepared(cache, key_of(g, false), [&] {
        return typename Primitive::primitive_desc(
            {dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst, d.strides, d.dilates,
             d.padding_l, d.padding_r},
            Descriptors::scratch_by_caller(), engine, d.forward(engine));
    });
}

template <class Run> void run_onednn(const char* op, const ConvGeometry& g, Run run) {
    try {
        run(Primitives::of_this_thread());
    } catch (const dnnl::error& error) {
        throw Error(
            fmt::format("{}: oneDNN failed on input ({}, {}, {}, {}) with a {} x {} kernel: {}", op,
                        g.n, g.c, g.h, g.w, g.kh, g.kw, error.what()));
    }
}

void forward_onednn(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    float* y) {
    run_onednn("conv2d", g, [&](Primitives& p) {
        const Descriptors d(g, b != nullptr);
        const auto& forward =
            prepared(p.forward, key_of(g, b != nullptr), [&] { return d.forward(p.engine); });
        std::unordered_map<int, memory> arguments{
            {DNNL_ARG_SRC, bind(d.src, p.engine, x)},
            {DNNL_ARG_WEIGHTS, bind(d.weights, p.engine, w)},
            {DNNL_ARG_DST, bind(d.dst, p.engine, y)},
            {DNNL_ARG_SCRATCHPAD, p.scratchpad(forward.scratchpad)}};
        if (b) arguments.emplace(DNNL_ARG_BIAS, bind(d.bias, p.engine, b));
        forward.primitive.execute(p.stream, arguments);
        p.stream.wait();
    });
}

void backward_data_onednn(const float* dy, const float* w, const ConvGeometry& g, float* dx) {
    run_onednn("conv2d_input_grad", g, [&](Primitives& p) {
        const Descriptors d(g, false);
        const auto& backward = prepared_backward(p.backward_data, g, d, p.engine);
        backward.primitive.execute(p.stream,
                                   {{DNNL_ARG_DIFF_DST, bind(d.dst, p.engine, dy)},
                                    {DNNL_ARG_WEIGHTS, bind(d.weights, p.engine, w)},
                                    {DNNL_ARG_DIFF_SRC, bind(d.src, p.engine, dx)},
                                    {DNNL_ARG_SCRATCHPAD, p.scratchpad(backward.scratchpad)}});
        p.stream.wait();
    });
}

void backward_weights_onednn(const float* x, const float* dy, const ConvGeometry& g, float* dw) {
    run_onednn("conv2d_weight_grad", g, [&](Primitives& p) {
        const Descriptors d(g, false);
        const auto& backward = prepared_backward(p.backward_weights, g, d, p.engine);
        backward.primitive.execute(p.stream,
                                   {{DNNL_ARG_SRC, bind(d.src, p.engine, x)},
                                    {DNNL_ARG_DIFF_DST, bind(d.dst, p.engine, dy)},
                                    {DNNL_ARG_DIFF_WEIGHTS, bind(d.weights, p.engine, dw)},
                                    {DNNL_ARG_SCRATCHPAD, p.scratchpad(backward.scratchpad)}});
        p.stream.wait();
    });
}

} // namespace

template <class T>
Array<T> conv2d(const Array<T>& x, const Array<T>& w, const Array<T>* b,
                const Conv2dOptions& options) {
    const ConvGeometry g = geometry("conv2d", Shape(x.shape().begin(), x.shape().end()),
                                    Shape(w.shape().begin(), w.shape().end()), options);
    Array<T> y = Array<T>::from_shape(output_shape(g));
    if constexpr (std::is_same_v<T, float>) {
        forward_onednn(x.data(), w.data(), b ? b->data() : nullptr, g, y.data());
    } else {
        forward_im2col(x.data(), w.data(), b ? b->data() : nullptr, g, y.data());
    }
    return y;
}

template <class T>
Array<T> conv2d(const Array<T>& x, const Array<T>& w, const Conv2dOptions& options) {
    return conv2d<T>(x, w, nullptr, options);
}

template <class T>
Array<T> conv2d_input_grad(const Array<T>& g, const Array<T>& w, const Shape& x_shape,
                           const Conv2dOptions& options) {
    const ConvGeometry geo =
        geometry("conv2d_input_grad", x_shape, Shape(w.shape().begin(), w.shape().end()), options);
    if (!same_shape<T>(ArrayShape(g.shape().begin(), g.shape().end()),
                       ArrayShape{geo.n, geo.o, geo.ho, geo.wo})) {
        throw ShapeError(
            fmt::format("conv2d_input_grad: a gradient of shape {} for an output of shape {}",
                        format_shape(g.shape()), format_shape(output_shape(geo))));
    }
    Array<T> dx = Array<T>::from_shape(x_shape);
    if constexpr (std::is_same_v<T, float>) {
        backward_data_onednn(g.data(), w.data(), geo, dx.data());
    } else {
        backward_data_im2col(g.data(), w.data(), geo, dx.data());
    }
    return dx;
}

template <class T>
Array<T> conv2d_weight_grad(const Array<T>& x, const Array<T>& g, const Shape& w_shape,
                            const Conv2dOptions& options) {
    const ConvGeometry geo =
        geometry("conv2d_weight_grad", Shape(x.shape().begin(), x.shape().end()), w_shape, options);
    if (!same_shape<T>(ArrayShape(g.shape().begin(), g.shape().end()),
                       ArrayShape{geo.n, geo.o, geo.ho, geo.wo})) {
        throw ShapeError(
            fmt::format("conv2d_weight_grad: a gradient of shape {} for an output of shape {}",
                        format_shape(g.shape()), format_shape(output_shape(geo))));
    }
    Array<T> dw = Array<T>::from_shape(w_shape);
    if constexpr (std::is_same_v<T, float>) {
        backward_weights_onednn(x.data(), g.data(), geo, dw.data());
    } else {
        backward_weights_im2col(x.data(), g.data(), geo, dw.data());
    }
    return dw;
}

} // namespace detail

// Y = conv(X, W) + b     dX = conv2d_input_grad(dY, W)     dW = conv2d_weight_grad(X, dY)
//                        db = dY summed over batch, height and width
template <class T>
Tensor<T> conv2d_with_optional_bias(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b,
                                    const Conv2dOptions& options) {
    if (b && (b->rank() != 1 || b->shape()[0] != (w.rank() > 0 ? w.shape()[0] : 0))) {
        throw ShapeError(
            fmt::format("conv2d: bias {} does not fit weight {} (one bias per output channel)",
                        format_shape(b->shape()), format_shape(w.shape())));
    }
    const Tensor<T> y = from_xtensor(
        detail::conv2d(as_xtensor(x), as_xtensor(w), b ? &as_xtensor(*b) : nullptr, options));
    auto backward = [options, x_shape = x.shape(),
                     w_shape = w.shape()](auto& d, const auto& dY, const auto& X, const auto& W) {
        if (d.wants(0)) d.add(0, conv2d_input_grad(dY, W, x_shape, options));
        if (d.wants(1)) d.add(1, conv2d_weight_grad(X, dY, w_shape, options));
        if (d.input_count() > 2 && d.wants(2))
            d.add(2, reshape(sum_keepdims(dY, {0, 2, 3}), {w_shape[0]}));
    };
    const auto saved = saving(save_if(w.requires_grad(), x), save_if(x.requires_grad(), w));
    if (b) return record("conv2d", {x, w, *b}, y, saved, backward);
    return record("conv2d", {x, w}, y, saved, backward);
}

template <class T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                 const Conv2dOptions& options) {
    return conv2d_with_optional_bias(x, w, &b, options);
}

template <class T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& w, const Conv2dOptions& options) {
    return conv2d_with_optional_bias<T>(x, w, nullptr, options);
}

// Z = conv2d_input_grad(G, W)      dG = conv(dZ, W)      dW = conv2d_weight_grad(dZ, G)
template <class T>
Tensor<T> conv2d_input_grad(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape,
                            const Conv2dOptions& options) {
    return record(
        "conv2d_input_grad", {g, w},
        from_xtensor(detail::conv2d_input_grad(as_xtensor(g), as_xtensor(w), x_shape, options)),
        saving(save_if(w.requires_grad(), g), save_if(g.requires_grad(), w)),
        [options, w_shape = w.shape()](auto& d, const auto& dZ, const auto& G, const auto& W) {
            if (d.wants(0)) d.add(0, conv2d(dZ, W, options));
            if (d.wants(1)) d.add(1, conv2d_weight_grad(dZ, G, w_shape, options));
        });
}

// V = conv2d_weight_grad(X, G)     dX = conv2d_input_grad(G, dV)     dG = conv(X, dV)
template <class T>
Tensor<T> conv2d_weight_grad(const Tensor<T>& x, const Tensor<T>& g, const Shape& w_shape,
                             const Conv2dOptions& options) {
    return record(
        "conv2d_weight_grad", {x, g},
        from_xtensor(detail::conv2d_weight_grad(as_xtensor(x), as_xtensor(g), w_shape, options)),
        saving(save_if(g.requires_grad(), x), save_if(x.requires_grad(), g)),
        [options, x_shape = x.shape()](auto& d, const auto& dV, const auto& X, const auto& G) {
            if (d.wants(0)) d.add(0, conv2d_input_grad(G, dV, x_shape, options));
            if (d.wants(1)) d.add(1, conv2d(X, dV, options));
        });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Array<T> detail::conv2d(const Array<T>&, const Array<T>&, const Array<T>*,            \
                                     const Conv2dOptions&);                                        \
    template Array<T> detail::conv2d(const Array<T>&, const Array<T>&, const Conv2dOptions&);      \
    template Array<T> detail::conv2d_input_grad(const Array<T>&, const Array<T>&, const Shape&,    \
                                                const Conv2dOptions&);                             \
    template Array<T> detail::conv2d_weight_grad(const Array<T>&, const Array<T>&, const Shape&,   \
                                                 const Conv2dOptions&);                            \
    template Tensor<T> conv2d(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,                \
                              const Conv2dOptions&);                                               \
    template Tensor<T> conv2d(const Tensor<T>&, const Tensor<T>&, const Conv2dOptions&);           \
    template Tensor<T> conv2d_input_grad(const Tensor<T>&, const Tensor<T>&, const Shape&,         \
                                         const Conv2dOptions&);                                    \
    template Tensor<T> conv2d_weight_grad(const Tensor<T>&, const Tensor<T>&, const Shape&,        \
                                          const Conv2dOptions&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
