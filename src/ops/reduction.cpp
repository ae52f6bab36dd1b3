// Reductions. The gradient of a sum is the output gradient broadcast back over the summed
// axes; of a max (min), the output gradient put back at the first maximal (minimal) element.

#include "tapegrad/function.hpp"

#include <numeric>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays: reshape, expand, scatter_flat

namespace {

std::vector<int> all_axes(std::size_t rank) {
    std::vector<int> axes(rank);
    std::iota(axes.begin(), axes.end(), 0);
    return axes;
}

/// `shape` with the reduced `axes` kept as size 1.
Shape keepdims_shape(Shape shape, const std::vector<std::size_t>& axes) {
    for (std::size_t axis : axes) shape[axis] = 1;
    return shape;
}

/// For each line along `axis`, the position of its first element that `better` prefers to
/// all others, and the shape of the result (axis removed, or kept as 1).
template <class T, class Better>
std::pair<FlatPositions, Shape> extreme_positions(const char* op, const Tensor<T>& x, int axis,
                                                  bool keepdims, Better better) {
    const Array<T>& X = as_xtensor(x);
    const std::size_t k = normalize_axis(op, axis, X.dimension());
    if (X.shape()[k] == 0) {
        throw ValueError(
            fmt::format("{}: axis {} of shape {} is empty", op, axis, format_shape(X.shape())));
    }
    const AxisView view = view_around_axis(X.shape(), k);
    auto positions = std::make_shared<std::vector<std::size_t>>(view.outer * view.inner);
    for (std::size_t o = 0; o < view.outer; ++o) {
        for (std::size_t i = 0; i < view.inner; ++i) {
            const std::size_t first = o * view.extent * view.inner + i;
            std::size_t best = first;
            for (std::size_t e = 1; e < view.extent; ++e) {
                const std::size_t at = first + e * view.inner;
                if (better(X.data()[at], X.data()[best])) best = at;
            }
            (*positions)[o * view.inner + i] = best;
        }
    }
    Shape shape = keepdims_shape(x.shape(), {k});
    if (!keepdims) shape.erase(shape.begin() + std::ptrdiff_t(k));
    return {positions, shape};
}

template <class T, class Better>
Indices extreme_indices(const char* op, const Tensor<T>& x, int axis, Better better) {
    const auto [positions, shape] = extreme_positions(op, x, axis, false, better);
    const AxisView view =
        view_around_axis(as_xtensor(x).shape(), normalize_axis(op, axis, x.rank()));
    Indices indices{shape, {}};
    for (std::size_t p : *positions)
        indices.values.push_back(std::int64_t(p / view.inner % view.extent));
    return indices;
}

} // namespace

template <class T> Array<T> detail::sum_keepdims_of(const Array<T>& x, const Axes& axes) {
    return sum_over(x, normalize_axes("sum_keepdims", axes, x.dimension()), true);
}

// y = sum of x over axes      dx = dy broadcast back over those axes
template <class T> Tensor<T> sum(const Tensor<T>& x, const Axes& axes, bool keepdims) {
    const Array<T>& X = as_xtensor(x);
    const std::vector<std::size_t> reduced = normalize_axes("sum", axes, X.dimension());
    return record("sum", {x}, from_xtensor(sum_over(X, reduced, keepdims)),
                  [kept = keepdims_shape(x.shape(), reduced), x_shape = x.shape()](
                      auto& d, const auto& dY) { d.add(0, expand(reshape(dY, kept), x_shape)); });
}

template <class T> Tensor<T> sum(const Tensor<T>& x) {
    return sum(x, all_axes(x.rank()));
}

template <class T> Tensor<T> sum_keepdims(const Tensor<T>& x, const Axes& axes) {
    return sum(x, axes, true);
}

// y = sum / (number of elements summed)
template <class T> Tensor<T> mean(const Tensor<T>& x, const Axes& axes, bool keepdims) {
    std::size_t count = 1;
    for (std::size_t axis : normalize_axes("mean", axes, x.rank())) count *= x.shape()[axis];
    return sum(x, axes, keepdims) * (T(1) / static_cast<T>(count));
}

template <class T> Tensor<T> mean(const Tensor<T>& x) {
    return mean(x, all_axes(x.rank()));
}

// y = x at the first maximum along axis      dx = dy put back there, 0 elsewhere
template <class T> Tensor<T> max(const Tensor<T>& x, int axis, bool keepdims) {
    const auto [positions, shape] =
        extreme_positions("max", x, axis, keepdims, [](T a, T b) { return a > b; });
    return take("max", x, positions, shape);
}

template <class T> Tensor<T> min(const Tensor<T>& x, int axis, bool keepdims) {
    const auto [positions, shape] =
        extreme_positions("min", x, axis, keepdims, [](T a, T b) { return a < b; });
    return take("min", x, positions, shape);
}

template <class T> Indices argmax(const Tensor<T>& x, int axis) {
    return extreme_indices("argmax", x, axis, [](T a, T b) { return a > b; });
}

template <class T> Indices argmin(const Tensor<T>& x, int axis) {
    return extreme_indices("argmin", x, axis, [](T a, T b) { return a < b; });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Array<T> detail::sum_keepdims_of(const Array<T>&, const Axes&);                       \
    template Tensor<T> sum(const Tensor<T>&);                                                      \
    template Tensor<T> sum(const Tensor<T>&, const Axes&, bool);                                   \
    template Tensor<T> sum_keepdims(const Tensor<T>&, const Axes&);                                \
    template Tensor<T> mean(const Tensor<T>&);                                                     \
    template Tensor<T> mean(const Tensor<T>&, const Axes&, bool);                                  \
    template Tensor<T> max(const Tensor<T>&, int, bool);                                           \
    template Tensor<T> min(const Tensor<T>&, int, bool);                                           \
    template Indices argmax(const Tensor<T>&, int);                                                \
    template Indices argmin(const Tensor<T>&, int);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
