// Elementwise functions y = h(x), with dx = dy (.) h'(x) (docs/ops.md). Each backward reads
// whichever of x or y gives h' most cheaply.

#include "tapegrad/function.hpp"

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays

// relu'(x) = [x > 0]; 0 at the kink.
template <class T> Tensor<T> relu(const Tensor<T>& x) {
    const Tensor<T> y = from_xtensor(xt::maximum(as_xtensor(x), T(0)));
    return record("relu", {x}, y, saving(y), [](auto& d, const auto& dY, const auto& Y) {
        d.add(0, where(Y > T(0), dY, T(0)));
    });
}

// leaky_relu'(x) = 1 for x > 0, else the slope (so the slope at the kink).
template <class T> Tensor<T> leaky_relu(const Tensor<T>& x, Scalar<T> slope) {
    const auto& values = as_xtensor(x);
    return record("leaky_relu", {x}, from_xtensor(xt::where(values > T(0), values, slope * values)),
                  saving(x), [slope](auto& d, const auto& dY, const auto& X) {
                      d.add(0, where(X > T(0), dY, dY * slope));
                  });
}

// elu(x) = x for x > 0, alpha (e^x - 1) else;  elu'(x) = 1 or y + alpha (alpha at the kink).
template <class T> Tensor<T> elu(const Tensor<T>& x, Scalar<T> alpha) {
    const auto& values = as_xtensor(x);
    const Tensor<T> y = from_xtensor(xt::where(values > T(0), values, alpha * xt::expm1(values)));
    return record("elu", {x}, y, saving(x, y),
                  [alpha](auto& d, const auto& dY, const auto& X, const auto& Y) {
                      d.add(0, where(X > T(0), dY, dY * (Y + alpha)));
                  });
}

// tanh'(x) = 1 - y^2
template <class T> Tensor<T> tanh(const Tensor<T>& x) {
    const Tensor<T> y = from_xtensor(xt::tanh(as_xtensor(x)));
    return record("tanh", {x}, y, saving(y),
                  [](auto& d, const auto& dY, const auto& Y) { d.add(0, dY * (T(1) - Y * Y)); });
}

// sigmoid'(x) = y (1 - y)
template <class T> Tensor<T> sigmoid(const Tensor<T>& x) {
    const Tensor<T> y = from_xtensor(T(1) / (T(1) + xt::exp(-as_xtensor(x))));
    return record("sigmoid", {x}, y, saving(y),
                  [](auto& d, const auto& dY, const auto& Y) { d.add(0, dY * Y * (T(1) - Y)); });
}

// exp'(x) = y
template <class T> Tensor<T> exp(const Tensor<T>& x) {
    const Tensor<T> y = from_xtensor(xt::exp(as_xtensor(x)));
    return record("exp", {x}, y, saving(y),
                  [](auto& d, const auto& dY, const auto& Y) { d.add(0, dY * Y); });
}

// log'(x) = 1 / x
template <class T> Tensor<T> log(const Tensor<T>& x) {
    return record("log", {x}, from_xtensor(xt::log(as_xtensor(x))), saving(x),
                  [](auto& d, const auto& dY, const auto& X) { d.add(0, dY / X); });
}

// sqrt'(x) = 1 / (2 y)
template <class T> Tensor<T> sqrt(const Tensor<T>& x) {
    const Tensor<T> y = from_xtensor(xt::sqrt(as_xtensor(x)));
    return record("sqrt", {x}, y, saving(y),
                  [](auto& d, const auto& dY, const auto& Y) { d.add(0, dY / (T(2) * Y)); });
}

// abs'(x) = sign(x); 0 at the kink.
template <class T> Tensor<T> abs(const Tensor<T>& x) {
    return record("abs", {x}, from_xtensor(xt::abs(as_xtensor(x))), saving(x),
                  [](auto& d, const auto& dY, const auto& X) { d.add(0, dY * sign(X)); });
}

// sign is piecewise constant: its gradient is 0 wherever it is defined, so nothing flows.
template <class T> Tensor<T> sign(const Tensor<T>& x) {
    return from_xtensor(xt::sign(as_xtensor(x)));
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> relu(const Tensor<T>&);                                                     \
    template Tensor<T> leaky_relu(const Tensor<T>&, Scalar<T>);                                    \
    template Tensor<T> elu(const Tensor<T>&, Scalar<T>);                                           \
    template Tensor<T> tanh(const Tensor<T>&);                                                     \
    template Tensor<T> sigmoid(const Tensor<T>&);                                                  \
    template Tensor<T> exp(const Tensor<T>&);                                                      \
    template Tensor<T> log(const Tensor<T>&);                                                      \
    template Tensor<T> sqrt(const Tensor<T>&);                                                     \
    template Tensor<T> abs(const Tensor<T>&);                                                      \
    template Tensor<T> sign(const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
