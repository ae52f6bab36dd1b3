// Reductions. The gradient of a sum is the output gradient broadcast back over the summed
// axes; of a max, the output gradient at the arg-max.

#include "ops/record.hpp"
#include "tapegrad/ops.hpp"

#include <fmt/format.h>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xreducer.hpp>

#include <numeric>

namespace tapegrad {

using namespace detail; // the vocabulary of ops/record.hpp: record, saved, InputGrads, ...

namespace {

std::vector<int> all_axes(std::size_t rank) {
    std::vector<int> axes(rank);
    std::iota(axes.begin(), axes.end(), 0);
    return axes;
}

/// `shape` with the reduced `axes` kept as size 1.
ArrayShape keepdims_shape(ArrayShape shape, const std::vector<std::size_t>& axes) {
    for (std::size_t axis : axes) shape[axis] = 1;
    return shape;
}

} // namespace

// y = sum of x over axes      dx = dy broadcast back over those axes
template <class T> Tensor<T> sum(const Tensor<T>& x, const Axes& axes, bool keepdims) {
    const Array<T>& X = value(x);
    const std::vector<std::size_t> reduced = detail::normalize_axes("sum", axes, X.dimension());
    const ArrayShape kept_shape = keepdims_shape(X.shape(), reduced);
    Tensor<T> y = result<T>(sum_over(X, reduced, keepdims));
    if (recording(x))
        record("sum", y, {x},
               [kept_shape, x_shape = X.shape()](const Array<T>& dy, InputGrads<T>& d) {
                   d.add(0, xt::broadcast(xt::reshape_view(dy, kept_shape), x_shape));
               });
    return y;
}

template <class T> Tensor<T> sum(const Tensor<T>& x) {
    return sum(x, all_axes(x.rank()));
}

// y = sum / (number of elements summed)
template <class T> Tensor<T> mean(const Tensor<T>& x, const Axes& axes, bool keepdims) {
    std::size_t count = 1;
    for (std::size_t axis : detail::normalize_axes("mean", axes, x.rank()))
        count *= value(x).shape()[axis];
    return sum(x, axes, keepdims) * (T(1) / static_cast<T>(count));
}

template <class T> Tensor<T> mean(const Tensor<T>& x) {
    return mean(x, all_axes(x.rank()));
}

// y = max of x along axis      dx = dy at the (first) arg-max, 0 elsewhere
template <class T> Tensor<T> max(const Tensor<T>& x, int axis, bool keepdims) {
    const Array<T>& X = value(x);
    const std::size_t k = detail::normalize_axis("max", axis, X.dimension());
    if (X.shape()[k] == 0) {
        throw ValueError(fmt::format("max: axis {} of shape {} is empty", axis,
                                     detail::format_shape(X.shape())));
    }
    const detail::AxisView view = detail::view_around_axis(X.shape(), k);
    ArrayShape y_shape = keepdims_shape(X.shape(), {k});
    if (!keepdims) y_shape.erase(y_shape.begin() + static_cast<std::ptrdiff_t>(k));
    Array<T> Y = detail::empty_array<T>(y_shape);
    std::vector<std::size_t> argmax(Y.size()); // flat index into x of each output's maximum
    for (std::size_t o = 0; o < view.outer; ++o) {
        for (std::size_t i = 0; i < view.inner; ++i) {
            const std::size_t first = o * view.extent * view.inner + i;
            std::size_t best = first;
            for (std::size_t e = 1; e < view.extent; ++e) {
                const std::size_t at = first + e * view.inner;
                if (X.data()[at] > X.data()[best]) best = at;
            }
            argmax[o * view.inner + i] = best;
            Y.data()[o * view.inner + i] = X.data()[best];
        }
    }
    Tensor<T> y = result<T>(std::move(Y));
    if (recording(x))
        record("max", y, {x},
               [argmax = std::move(argmax), x_shape = X.shape()](const Array<T>& dy,
                                                                 InputGrads<T>& d) {
                   Array<T> dx = xt::zeros<T>(x_shape);
                   for (std::size_t j = 0; j < argmax.size(); ++j)
                       dx.data()[argmax[j]] += dy.data()[j];
                   d.add(0, std::move(dx));
               });
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> sum(const Tensor<T>&);                                                      \
    template Tensor<T> sum(const Tensor<T>&, const Axes&, bool);                                   \
    template Tensor<T> mean(const Tensor<T>&);                                                     \
    template Tensor<T> mean(const Tensor<T>&, const Axes&, bool);                                  \
    template Tensor<T> max(const Tensor<T>&, int, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
