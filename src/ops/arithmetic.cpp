// Broadcasting arithmetic. The closures add gradients at the output's shape; InputGrads
// sums the broadcast axes back to each input's shape.

#include "ops/record.hpp"
#include "tapegrad/ops.hpp"

#include <xtensor/xmath.hpp>

namespace tapegrad {

using namespace detail; // the vocabulary of ops/record.hpp: record, saved, InputGrads, ...

namespace {
template <class T>
void require_broadcastable(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
    if (value(a).shape() != value(b).shape())
        detail::broadcast_shapes(op, value(a).shape(), value(b).shape());
}
} // namespace

// y = a + b      da = dy    db = dy
template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("add", a, b);
    Tensor<T> y = result<T>(value(a) + value(b));
    if (recording(a, b))
        record("add", y, {a, b}, [](const Array<T>&, InputGrads<T>& d) {
            if (d.wants(0)) d.pass_through(0);
            if (d.wants(1)) d.pass_through(1);
        });
    return y;
}

// y = a - b      da = dy    db = -dy
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("sub", a, b);
    Tensor<T> y = result<T>(value(a) - value(b));
    if (recording(a, b))
        record("sub", y, {a, b}, [](const Array<T>& dy, InputGrads<T>& d) {
            if (d.wants(0)) d.pass_through(0);
            if (d.wants(1)) d.add(1, -dy);
        });
    return y;
}

// y = a * b      da = dy * b    db = dy * a
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("mul", a, b);
    Tensor<T> y = result<T>(value(a) * value(b));
    if (recording(a, b))
        record("mul", y, {a, b},
               [A = saved_if(b.requires_grad(), a),
                B = saved_if(a.requires_grad(), b)](const Array<T>& dy, InputGrads<T>& d) {
                   if (d.wants(0)) d.add(0, dy * *B);
                   if (d.wants(1)) d.add(1, dy * *A);
               });
    return y;
}

// y = a / b      da = dy / b    db = -dy * y / b
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("div", a, b);
    Tensor<T> y = result<T>(value(a) / value(b));
    if (recording(a, b))
        record("div", y, {a, b},
               [B = saved(b), Y = saved_if(b.requires_grad(), y)](const Array<T>& dy,
                                                                  InputGrads<T>& d) {
                   if (d.wants(0)) d.add(0, dy / *B);
                   if (d.wants(1)) d.add(1, -dy * *Y / *B);
               });
    return y;
}

// y = -x         dx = -dy
template <class T> Tensor<T> operator-(const Tensor<T>& x) {
    Tensor<T> y = result<T>(-value(x));
    if (recording(x))
        record("neg", y, {x}, [](const Array<T>& dy, InputGrads<T>& d) { d.add(0, -dy); });
    return y;
}

// y = x + s      dx = dy
template <class T> Tensor<T> operator+(const Tensor<T>& x, Scalar<T> s) {
    Tensor<T> y = result<T>(value(x) + s);
    if (recording(x))
        record("add_scalar", y, {x}, [](const Array<T>&, InputGrads<T>& d) { d.pass_through(0); });
    return y;
}

// y = x * s      dx = s dy
template <class T> Tensor<T> operator*(const Tensor<T>& x, Scalar<T> s) {
    Tensor<T> y = result<T>(value(x) * s);
    if (recording(x))
        record("mul_scalar", y, {x},
               [s](const Array<T>& dy, InputGrads<T>& d) { d.add(0, dy * s); });
    return y;
}

// y = x^p        dx = p x^(p-1) dy
template <class T> Tensor<T> pow(const Tensor<T>& x, Scalar<T> p) {
    Tensor<T> y = result<T>(xt::pow(value(x), p));
    if (recording(x))
        record("pow", y, {x}, [X = saved(x), p](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, dy * p * xt::pow(*X, p - 1));
        });
    return y;
}

// The other scalar forms are compositions of the ones above.
template <class T> Tensor<T> operator+(Scalar<T> s, const Tensor<T>& x) {
    return x + s;
}
template <class T> Tensor<T> operator-(const Tensor<T>& x, Scalar<T> s) {
    return x + (-s);
}
template <class T> Tensor<T> operator-(Scalar<T> s, const Tensor<T>& x) {
    return -x + s;
}
template <class T> Tensor<T> operator*(Scalar<T> s, const Tensor<T>& x) {
    return x * s;
}
template <class T> Tensor<T> operator/(const Tensor<T>& x, Scalar<T> s) {
    return x * (T(1) / s);
}
template <class T> Tensor<T> operator/(Scalar<T> s, const Tensor<T>& x) {
    return pow(x, T(-1)) * s;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> operator+(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> operator-(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> operator*(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> operator/(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> operator-(const Tensor<T>&);                                                \
    template Tensor<T> operator+(const Tensor<T>&, Scalar<T>);                                     \
    template Tensor<T> operator+(Scalar<T>, const Tensor<T>&);                                     \
    template Tensor<T> operator-(const Tensor<T>&, Scalar<T>);                                     \
    template Tensor<T> operator-(Scalar<T>, const Tensor<T>&);                                     \
    template Tensor<T> operator*(const Tensor<T>&, Scalar<T>);                                     \
    template Tensor<T> operator*(Scalar<T>, const Tensor<T>&);                                     \
    template Tensor<T> operator/(const Tensor<T>&, Scalar<T>);                                     \
    template Tensor<T> operator/(Scalar<T>, const Tensor<T>&);                                     \
    template Tensor<T> pow(const Tensor<T>&, Scalar<T>);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
