// softmax and log_softmax along an axis (seed 1e).

#include "ops/softmax.hpp"

#include "ops/record.hpp"
#include "tapegrad/ops.hpp"

#include <xtensor/xmath.hpp>

#include <algorithm>
#include <cmath>

namespace tapegrad {

using namespace detail; // the vocabulary of ops/record.hpp: record, saved, InputGrads, ...

namespace detail {

// log softmax(x)_c = x_c - m - log(sum_k e^(x_k - m)), m = max_k x_k, along each line of
// `axis`. The arithmetic is in T; the sum of e^(x_k - m) >= 1, so its log is finite.
template <class T> Array<T> log_softmax_along(const Array<T>& X, std::size_t axis) {
    const AxisView v = view_around_axis(X.shape(), axis);
    Array<T> Y = empty_array<T>(X.shape());
    if (v.extent == 0) return Y;
    for (std::size_t o = 0; o < v.outer; ++o) {
        for (std::size_t i = 0; i < v.inner; ++i) {
            const T* x = X.data() + o * v.extent * v.inner + i;
            T* y = Y.data() + o * v.extent * v.inner + i;
            T m = x[0];
            for (std::size_t e = 1; e < v.extent; ++e) m = std::max(m, x[e * v.inner]);
            T total = 0;
            for (std::size_t e = 0; e < v.extent; ++e) total += std::exp(x[e * v.inner] - m);
            const T shift = m + std::log(total);
            for (std::size_t e = 0; e < v.extent; ++e) y[e * v.inner] = x[e * v.inner] - shift;
        }
    }
    return Y;
}
template Array<float> log_softmax_along(const Array<float>&, std::size_t);
template Array<double> log_softmax_along(const Array<double>&, std::size_t);

/// sum of `a` along `axis`, kept as a size-1 axis so that it broadcasts back.
template <class T, class E> Array<T> sum_keepdims(const E& a, std::size_t axis) {
    return sum_over(Array<T>(a), {axis}, true);
}

} // namespace detail

// Y = softmax(X)      dX = Y (.) (dY - sum_axis(dY (.) Y))
template <class T> Tensor<T> softmax(const Tensor<T>& x, int axis) {
    const std::size_t k = detail::normalize_axis("softmax", axis, x.rank());
    Tensor<T> y = result<T>(xt::exp(detail::log_softmax_along(value(x), k)));
    if (recording(x))
        record("softmax", y, {x}, [Y = saved(y), k](const Array<T>& dY, InputGrads<T>& d) {
            d.add(0, *Y * (dY - detail::sum_keepdims<T>(dY * *Y, k)));
        });
    return y;
}

// Y = log softmax(X)  dX = dY - softmax(X) (.) sum_axis(dY)
template <class T> Tensor<T> log_softmax(const Tensor<T>& x, int axis) {
    const std::size_t k = detail::normalize_axis("log_softmax", axis, x.rank());
    Tensor<T> y = result<T>(detail::log_softmax_along(value(x), k));
    if (recording(x))
        record("log_softmax", y, {x}, [Y = saved(y), k](const Array<T>& dY, InputGrads<T>& d) {
            d.add(0, dY - xt::exp(*Y) * detail::sum_keepdims<T>(dY, k));
        });
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> softmax(const Tensor<T>&, int);                                             \
    template Tensor<T> log_softmax(const Tensor<T>&, int);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
