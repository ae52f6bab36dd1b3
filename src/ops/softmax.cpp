// softmax and log_softmax along an axis (docs/ops.md, the softmax layer).

#include "tapegrad/function.hpp"

#include <xtensor/xmath.hpp>

#include <algorithm>
#include <cmath>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays: sum_keepdims

namespace detail {

// log softmax(x)_c = x_c - m - log(sum_k e^(x_k - m)), m = max_k x_k, along each line of
// `axis`. The arithmetic is in T; the sum of e^(x_k - m) >= 1, so its log is finite.
template <class T> Array<T> log_softmax(const Array<T>& X, int axis) {
    const AxisView v =
        view_around_axis(X.shape(), normalize_axis("log_softmax", axis, X.dimension()));
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

template <class T> Array<T> softmax(const Array<T>& X, int axis) {
    return xt::exp(log_softmax(X, axis));
}

} // namespace detail

// Y = softmax(X)      dX = Y (.) (dY - sum_axis(dY (.) Y))
template <class T> Tensor<T> softmax(const Tensor<T>& x, int axis) {
    normalize_axis("softmax", axis, x.rank());
    const Tensor<T> y = from_xtensor(detail::softmax(as_xtensor(x), axis));
    return record("softmax", {x}, y, saving(y), [axis](auto& d, const auto& dY, const auto& Y) {
        d.add(0, Y * (dY - sum_keepdims(dY * Y, {axis})));
    });
}

// Y = log softmax(X)  dX = dY - softmax(X) (.) sum_axis(dY)
template <class T> Tensor<T> log_softmax(const Tensor<T>& x, int axis) {
    const Tensor<T> y = from_xtensor(detail::log_softmax(as_xtensor(x), axis));
    return record("log_softmax", {x}, y, saving(y), [axis](auto& d, const auto& dY, const auto& Y) {
        d.add(0, dY - exp(Y) * sum_keepdims(dY, {axis}));
    });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Array<T> detail::log_softmax(const Array<T>&, int);                                   \
    template Array<T> detail::softmax(const Array<T>&, int);                                       \
    template Tensor<T> softmax(const Tensor<T>&, int);                                             \
    template Tensor<T> log_softmax(const Tensor<T>&, int);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
