// Elementwise functions y = h(x), with dx = dy (.) h'(x) (seed 1d). Each backward reads
// whichever of x or y gives h' most cheaply.

#include "ops/record.hpp"
#include "tapegrad/ops.hpp"

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

namespace tapegrad {

using namespace detail; // the vocabulary of ops/record.hpp: record, saved, InputGrads, ...

// relu'(x) = [x > 0]; 0 at the kink.
template <class T> Tensor<T> relu(const Tensor<T>& x) {
    Tensor<T> y = result<T>(xt::maximum(value(x), T(0)));
    if (recording(x))
        record("relu", y, {x}, [Y = saved(y)](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, xt::where(*Y > T(0), dy, T(0)));
        });
    return y;
}

// leaky_relu'(x) = 1 for x > 0, else the slope (so the slope at the kink).
template <class T> Tensor<T> leaky_relu(const Tensor<T>& x, Scalar<T> slope) {
    Tensor<T> y = result<T>(xt::where(value(x) > T(0), value(x), slope * value(x)));
    if (recording(x))
        record("leaky_relu", y, {x}, [X = saved(x), slope](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, xt::where(*X > T(0), dy, slope * dy));
        });
    return y;
}

// elu(x) = x for x > 0, alpha (e^x - 1) else;  elu'(x) = 1 or y + alpha (alpha at the kink).
template <class T> Tensor<T> elu(const Tensor<T>& x, Scalar<T> alpha) {
    Tensor<T> y = result<T>(xt::where(value(x) > T(0), value(x), alpha * xt::expm1(value(x))));
    if (recording(x))
        record("elu", y, {x},
               [X = saved(x), Y = saved(y), alpha](const Array<T>& dy, InputGrads<T>& d) {
                   d.add(0, xt::where(*X > T(0), dy, dy * (*Y + alpha)));
               });
    return y;
}

// tanh'(x) = 1 - y^2
template <class T> Tensor<T> tanh(const Tensor<T>& x) {
    Tensor<T> y = result<T>(xt::tanh(value(x)));
    if (recording(x))
        record("tanh", y, {x}, [Y = saved(y)](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, dy * (T(1) - *Y * *Y));
        });
    return y;
}

// sigmoid'(x) = y (1 - y)
template <class T> Tensor<T> sigmoid(const Tensor<T>& x) {
    Tensor<T> y = result<T>(T(1) / (T(1) + xt::exp(-value(x))));
    if (recording(x))
        record("sigmoid", y, {x}, [Y = saved(y)](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, dy * *Y * (T(1) - *Y));
        });
    return y;
}

// exp'(x) = y
template <class T> Tensor<T> exp(const Tensor<T>& x) {
    Tensor<T> y = result<T>(xt::exp(value(x)));
    if (recording(x))
        record("exp", y, {x},
               [Y = saved(y)](const Array<T>& dy, InputGrads<T>& d) { d.add(0, dy * *Y); });
    return y;
}

// log'(x) = 1 / x
template <class T> Tensor<T> log(const Tensor<T>& x) {
    Tensor<T> y = result<T>(xt::log(value(x)));
    if (recording(x))
        record("log", y, {x},
               [X = saved(x)](const Array<T>& dy, InputGrads<T>& d) { d.add(0, dy / *X); });
    return y;
}

// sqrt'(x) = 1 / (2 y)
template <class T> Tensor<T> sqrt(const Tensor<T>& x) {
    Tensor<T> y = result<T>(xt::sqrt(value(x)));
    if (recording(x))
        record("sqrt", y, {x}, [Y = saved(y)](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, dy / (T(2) * *Y));
        });
    return y;
}

// abs'(x) = sign(x); 0 at the kink.
template <class T> Tensor<T> abs(const Tensor<T>& x) {
    Tensor<T> y = result<T>(xt::abs(value(x)));
    if (recording(x))
        record("abs", y, {x}, [X = saved(x)](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, dy * xt::sign(*X));
        });
    return y;
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
    template Tensor<T> abs(const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
