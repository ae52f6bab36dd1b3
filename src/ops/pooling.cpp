// 2-D pooling over kernel windows of images (N, C, H, W).
//
//   max pooling:  y = x at the first maximum of each window; its gradient is put back there
//                 (the pair take / scatter_flat, as for max along an axis)
//   avg pooling:  y = (1 / kH kW) sum of each window (padding counts as zeros); its gradient
//                 is each output's gradient spread evenly over its window: avg_pool2d_adjoint,
//                 whose own gradient is avg_pool2d again.

#include "tapegrad/function.hpp"

#include <limits>

namespace tapegrad {

using namespace detail; // the vocabulary of closures: avg_pool2d on arrays

namespace detail {

namespace {

struct PoolGeometry {
    std::size_t n, c, h, w, ho, wo;
    Size2d kernel, stride, padding;

    /// The rows [first, last) of the input that window row i covers; likewise for columns.
    std::pair<std::size_t, std::size_t> rows(std::size_t i) const {
        return span(i, stride.h, padding.h, kernel.h, h);
    }
    std::pair<std::size_t, std::size_t> columns(std::size_t j) const {
        return span(j, stride.w, padding.w, kernel.w, w);
    }
    static std::pair<std::size_t, std::size_t> span(std::size_t i, std::size_t stride,
                                                    std::size_t padding, std::size_t kernel,
                                                    std::size_t extent) {
        const std::ptrdiff_t first = std::ptrdiff_t(i * stride) - std::ptrdiff_t(padding);
        const std::ptrdiff_t last = first + std::ptrdiff_t(kernel);
        return {std::size_t(std::max<std::ptrdiff_t>(first, 0)),
                std::size_t(std::min<std::ptrdiff_t>(last, std::ptrdiff_t(extent)))};
    }
};

PoolGeometry pool_geometry(const char* op, const Shape& x, Size2d kernel, Size2d stride,
                           Size2d padding) {
    if (stride.h == 0 && stride.w == 0) stride = kernel;
    if (x.size() != 4) {
        throw ShapeError(
            fmt::format("{}: expected images (N, C, H, W), got shape {}", op, format_shape(x)));
    }
    if (kernel.h == 0 || kernel.w == 0 || stride.h == 0 || stride.w == 0) {
        throw ValueError(fmt::format("{}: kernel {}x{} and stride {}x{} must be at least 1", op,
                                     kernel.h, kernel.w, stride.h, stride.w));
    }
    if (2 * padding.h > kernel.h || 2 * padding.w > kernel.w) {
        throw ValueError(fmt::format("{}: padding {}x{} is more than half the kernel {}x{}", op,
                                     padding.h, padding.w, kernel.h, kernel.w));
    }
    if (x[2] == 0 || x[3] == 0) {
        // every window would lie in the padding: max pooling would have no element to take
        throw ShapeError(
            fmt::format("{}: images of zero height or width, shape {}", op, format_shape(x)));
    }
    if (x[2] + 2 * padding.h < kernel.h || x[3] + 2 * padding.w < kernel.w) {
        throw ShapeError(fmt::format("{}: a kernel of {}x{} is larger than the padded input {}", op,
                                     kernel.h, kernel.w, format_shape(x)));
    }
    return {x[0],
            x[1],
            x[2],
            x[3],
            (x[2] + 2 * padding.h - kernel.h) / stride.h + 1,
            (x[3] + 2 * padding.w - kernel.w) / stride.w + 1,
            kernel,
            stride,
            padding};
}

/// Calls visit(output index, first input row, end row, first column, end column, input
/// offset of the plane) for every window of every image and channel.
template <class Visit> void for_each_window(const PoolGeometry& g, Visit visit) {
    std::vector<std::pair<std::size_t, std::size_t>> rows(g.ho), columns(g.wo);
    for (std::size_t i = 0; i < g.ho; ++i) rows[i] = g.rows(i);
    for (std::size_t j = 0; j < g.wo; ++j) columns[j] = g.columns(j);
    std::size_t out = 0;
    for (std::size_t plane = 0; plane < g.n * g.c; ++plane)
        for (std::size_t i = 0; i < g.ho; ++i)
            for (std::size_t j = 0; j < g.wo; ++j, ++out)
                visit(out, rows[i].first, rows[i].second, columns[j].first, columns[j].second,
                      plane * g.h * g.w);
}

} // namespace

template <class T>
Array<T> avg_pool2d(const Array<T>& x, Size2d kernel, Size2d stride, Size2d padding) {
    const PoolGeometry g = pool_geometry("avg_pool2d", Shape(x.shape().begin(), x.shape().end()),
                                         kernel, stride, padding);
    Array<T> y = Array<T>::from_shape({g.n, g.c, g.ho, g.wo});
    const T scale = T(1) / T(g.kernel.h * g.kernel.w);
    for_each_window(g, [&](std::size_t out, std::size_t r0, std::size_t r1, std::size_t c0,
                           std::size_t c1, std::size_t plane) {
        T total = 0;
        for (std::size_t r = r0; r < r1; ++r)
            for (std::size_t c = c0; c < c1; ++c) total += x.data()[plane + r * g.w + c];
        y.data()[out] = total * scale;
    });
    return y;
}

template <class T>
Array<T> avg_pool2d_adjoint(const Array<T>& dy, const Shape& x_shape, Size2d kernel, Size2d stride,
                            Size2d padding) {
    const PoolGeometry g = pool_geometry("avg_pool2d_adjoint", x_shape, kernel, stride, padding);
    if (!same_shape<T>(ArrayShape(dy.shape().begin(), dy.shape().end()),
                       ArrayShape{g.n, g.c, g.ho, g.wo})) {
        throw ShapeError(fmt::format(
            "avg_pool2d_adjoint: a gradient of shape {} for pooled shape ({}, {}, {}, {})",
            format_shape(dy.shape()), g.n, g.c, g.ho, g.wo));
    }
    Array<T> dx = xt::zeros<T>(x_shape);
    const T scale = T(1) / T(g.kernel.h * g.kernel.w);
    for_each_window(g, [&](std::size_t out, std::size_t r0, std::size_t r1, std::size_t c0,
                           std::size_t c1, std::size_t plane) {
        const T share = dy.data()[out] * scale;
        for (std::size_t r = r0; r < r1; ++r)
            for (std::size_t c = c0; c < c1; ++c) dx.data()[plane + r * g.w + c] += share;
    });
    return dx;
}

} // namespace detail

// y = x at the first maximum of each window      dx = dy put back there (scatter_flat)
template <class T>
Tensor<T> max_pool2d(const Tensor<T>& x, Size2d kernel, Size2d stride, Size2d padding) {
    const PoolGeometry g = pool_geometry("max_pool2d", x.shape(), kernel, stride, padding);
    auto positions = std::make_shared<std::vector<std::size_t>>(g.n * g.c * g.ho * g.wo);
    const T* values = x.data();
    for_each_window(g, [&](std::size_t out, std::size_t r0, std::size_t r1, std::size_t c0,
                           std::size_t c1, std::size_t plane) {
        std::size_t best = plane + r0 * g.w + c0;
        for (std::size_t r = r0; r < r1; ++r)
            for (std::size_t c = c0; c < c1; ++c)
                if (values[plane + r * g.w + c] > values[best]) best = plane + r * g.w + c;
        (*positions)[out] = best;
    });
    return take("max_pool2d", x, positions, {g.n, g.c, g.ho, g.wo});
}

// y = window means      dx = avg_pool2d_adjoint(dy)
template <class T>
Tensor<T> avg_pool2d(const Tensor<T>& x, Size2d kernel, Size2d stride, Size2d padding) {
    return record("avg_pool2d", {x},
                  from_xtensor(detail::avg_pool2d(as_xtensor(x), kernel, stride, padding)),
                  [x_shape = x.shape(), kernel, stride, padding](auto& d, const auto& dY) {
                      d.add(0, avg_pool2d_adjoint(dY, x_shape, kernel, stride, padding));
                  });
}

// z = dy spread over the windows      dg = avg_pool2d(dz)
template <class T>
Tensor<T> avg_pool2d_adjoint(const Tensor<T>& g, const Shape& x_shape, Size2d kernel, Size2d stride,
                             Size2d padding) {
    return record(
        "avg_pool2d_adjoint", {g},
        from_xtensor(detail::avg_pool2d_adjoint(as_xtensor(g), x_shape, kernel, stride, padding)),
        [kernel, stride, padding](auto& d, const auto& dZ) {
            d.add(0, avg_pool2d(dZ, kernel, stride, padding));
        });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Array<T> detail::avg_pool2d(const Array<T>&, Size2d, Size2d, Size2d);                 \
    template Array<T> detail::avg_pool2d_adjoint(const Array<T>&, const Shape&, Size2d, Size2d,    \
                                                 Size2d);                                          \
    template Tensor<T> max_pool2d(const Tensor<T>&, Size2d, Size2d, Size2d);                       \
    template Tensor<T> avg_pool2d(const Tensor<T>&, Size2d, Size2d, Size2d);                       \
    template Tensor<T> avg_pool2d_adjoint(const Tensor<T>&, const Shape&, Size2d, Size2d, Size2d);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
