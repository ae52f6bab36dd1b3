// Broadcasting arithmetic, comparisons and selection. The closures add gradients at the
// output's shape; the engine sums the broadcast axes back to each input's shape.

#include "tapegrad/function.hpp"

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays: matmul, expand, ...

namespace {

template <class T>
void require_broadcastable(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
    if (as_xtensor(a).shape() != as_xtensor(b).shape())
        broadcast_shapes(op, as_xtensor(a).shape(), as_xtensor(b).shape());
}

/// A mask: 1 where `condition` holds, 0 elsewhere.
template <class T, class E> Tensor<T> mask_of(const E& condition) {
    return from_xtensor<T>(xt::cast<T>(condition));
}

/// Where a mask is set, as a condition for where(): a boolean expression for arrays, a
/// mask of 0 and 1 for tensors.
template <class T> auto nonzero(const Array<T>& mask) {
    return xt::not_equal(mask, T(0));
}
template <class T> Tensor<T> nonzero(const Tensor<T>& mask) {
    return mask_of<T>(xt::not_equal(as_xtensor(mask), T(0)));
}

} // namespace

// y = a + b      da = dy    db = dy
template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("add", a, b);
    return record("add", {a, b}, from_xtensor(as_xtensor(a) + as_xtensor(b)),
                  [](auto& d, const auto& dY) {
                      if (d.wants(0)) d.add(0, dY);
                      if (d.wants(1)) d.add(1, dY);
                  });
}

// y = a - b      da = dy    db = -dy
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("sub", a, b);
    return record("sub", {a, b}, from_xtensor(as_xtensor(a) - as_xtensor(b)),
                  [](auto& d, const auto& dY) {
                      if (d.wants(0)) d.add(0, dY);
                      if (d.wants(1)) d.add(1, -dY);
                  });
}

// y = a * b      da = dy * b    db = dy * a
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("mul", a, b);
    return record("mul", {a, b}, from_xtensor(as_xtensor(a) * as_xtensor(b)),
                  saving(save_if(b.requires_grad(), a), save_if(a.requires_grad(), b)),
                  [](auto& d, const auto& dY, const auto& A, const auto& B) {
                      if (d.wants(0)) d.add(0, dY * B);
                      if (d.wants(1)) d.add(1, dY * A);
                  });
}

// y = a / b      da = dy / b    db = -dy * y / b
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("div", a, b);
    const Tensor<T> y = from_xtensor(as_xtensor(a) / as_xtensor(b));
    return record("div", {a, b}, y, saving(&b, save_if(b.requires_grad(), y)),
                  [](auto& d, const auto& dY, const auto& B, const auto& Y) {
                      if (d.wants(0)) d.add(0, dY / B);
                      if (d.wants(1)) d.add(1, -dY * Y / B);
                  });
}

// y = -x         dx = -dy
template <class T> Tensor<T> operator-(const Tensor<T>& x) {
    return record("neg", {x}, from_xtensor(-as_xtensor(x)),
                  [](auto& d, const auto& dY) { d.add(0, -dY); });
}

// y = x + s      dx = dy
template <class T> Tensor<T> operator+(const Tensor<T>& x, Scalar<T> s) {
    return record("add_scalar", {x}, from_xtensor(as_xtensor(x) + s),
                  [](auto& d, const auto& dY) { d.add(0, dY); });
}

// y = x * s      dx = s dy
template <class T> Tensor<T> operator*(const Tensor<T>& x, Scalar<T> s) {
    return record("mul_scalar", {x}, from_xtensor(as_xtensor(x) * s),
                  [s](auto& d, const auto& dY) { d.add(0, dY * s); });
}

// y = x^p        dx = p x^(p-1) dy
template <class T> Tensor<T> pow(const Tensor<T>& x, Scalar<T> p) {
    return record(
        "pow", {x}, from_xtensor(xt::pow(as_xtensor(x), p)), saving(x),
        [p](auto& d, const auto& dY, const auto& X) { d.add(0, dY * p * pow(X, p - T(1))); });
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

// y = where(mask, a, b)      da = where(mask, dy, 0)    db = where(mask, 0, dy)
template <class T> Tensor<T> where(const Tensor<T>& mask, const Tensor<T>& a, const Tensor<T>& b) {
    broadcast_shapes("where",
                     broadcast_shapes("where", as_xtensor(mask).shape(), as_xtensor(a).shape()),
                     as_xtensor(b).shape());
    return record("where", {a, b},
                  from_xtensor(xt::where(nonzero(as_xtensor(mask)), as_xtensor(a), as_xtensor(b))),
                  saving(mask), [](auto& d, const auto& dY, const auto& Mask) {
                      if (d.wants(0)) d.add(0, where(nonzero(Mask), dY, T(0)));
                      if (d.wants(1)) d.add(1, where(nonzero(Mask), T(0), dY));
                  });
}

template <class T> Tensor<T> where(const Tensor<T>& mask, const Tensor<T>& a, Scalar<T> b) {
    return where(mask, a, Tensor<T>::scalar(b));
}

template <class T> Tensor<T> where(const Tensor<T>& mask, Scalar<T> a, const Tensor<T>& b) {
    return where(mask, Tensor<T>::scalar(a), b);
}

template <class T> Tensor<T> where(const Tensor<T>& mask, Scalar<T> a, Scalar<T> b) {
    return where(mask, Tensor<T>::scalar(a), Tensor<T>::scalar(b));
}

// maximum(a, b) = where(a >= b, a, b), minimum(a, b) = where(a <= b, a, b)
template <class T> Tensor<T> maximum(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("maximum", a, b);
    return where(a >= b, a, b);
}

template <class T> Tensor<T> minimum(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("minimum", a, b);
    return where(a <= b, a, b);
}

// y = x within [low, high]      dx = dy where low <= x <= high, 0 elsewhere
template <class T> Tensor<T> clamp(const Tensor<T>& x, Scalar<T> low, Scalar<T> high) {
    if (!(low <= high)) {
        throw ValueError(
            fmt::format("clamp: the lower bound {} is above the upper bound {}", low, high));
    }
    return where(x < low, low, where(x > high, high, x));
}

// Comparisons: masks without gradient.
template <class T> Tensor<T> operator>(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("greater", a, b);
    return mask_of<T>(as_xtensor(a) > as_xtensor(b));
}
template <class T> Tensor<T> operator<(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("less", a, b);
    return mask_of<T>(as_xtensor(a) < as_xtensor(b));
}
template <class T> Tensor<T> operator>=(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("greater_equal", a, b);
    return mask_of<T>(as_xtensor(a) >= as_xtensor(b));
}
template <class T> Tensor<T> operator<=(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("less_equal", a, b);
    return mask_of<T>(as_xtensor(a) <= as_xtensor(b));
}
template <class T> Tensor<T> operator==(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("equal", a, b);
    return mask_of<T>(xt::equal(as_xtensor(a), as_xtensor(b)));
}
template <class T> Tensor<T> operator!=(const Tensor<T>& a, const Tensor<T>& b) {
    require_broadcastable("not_equal", a, b);
    return mask_of<T>(xt::not_equal(as_xtensor(a), as_xtensor(b)));
}
template <class T> Tensor<T> operator>(const Tensor<T>& x, Scalar<T> s) {
    return mask_of<T>(as_xtensor(x) > s);
}
template <class T> Tensor<T> operator<(const Tensor<T>& x, Scalar<T> s) {
    return mask_of<T>(as_xtensor(x) < s);
}
template <class T> Tensor<T> operator>=(const Tensor<T>& x, Scalar<T> s) {
    return mask_of<T>(as_xtensor(x) >= s);
}
template <class T> Tensor<T> operator<=(const Tensor<T>& x, Scalar<T> s) {
    return mask_of<T>(as_xtensor(x) <= s);
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
    template Tensor<T> pow(const Tensor<T>&, Scalar<T>);                                           \
    template Tensor<T> where(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&);                \
    template Tensor<T> where(const Tensor<T>&, const Tensor<T>&, Scalar<T>);                       \
    template Tensor<T> where(const Tensor<T>&, Scalar<T>, const Tensor<T>&);                       \
    template Tensor<T> where(const Tensor<T>&, Scalar<T>, Scalar<T>);                              \
    template Tensor<T> maximum(const Tensor<T>&, const Tensor<T>&);                                \
    template Tensor<T> minimum(const Tensor<T>&, const Tensor<T>&);                                \
    template Tensor<T> clamp(const Tensor<T>&, Scalar<T>, Scalar<T>);                              \
    template Tensor<T> operator>(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> operator<(const Tensor<T>&, const Tensor<T>&);                              \
    template Tensor<T> operator>=(const Tensor<T>&, const Tensor<T>&);                             \
    template Tensor<T> operator<=(const Tensor<T>&, const Tensor<T>&);                             \
    template Tensor<T> operator==(const Tensor<T>&, const Tensor<T>&);                             \
    template Tensor<T> operator!=(const Tensor<T>&, const Tensor<T>&);                             \
    template Tensor<T> operator>(const Tensor<T>&, Scalar<T>);                                     \
    template Tensor<T> operator<(const Tensor<T>&, Scalar<T>);                                     \
    template Tensor<T> operator>=(const Tensor<T>&, Scalar<T>);                                    \
    template Tensor<T> operator<=(const Tensor<T>&, Scalar<T>);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
