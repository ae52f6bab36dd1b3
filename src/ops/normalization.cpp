// Batch normalisation (docs/ops.md). Per channel, over the M values of that channel in the
// batch (over N, H and W for images, over N for rows):
//
//   mean = sum x / M      var = sum (x - mean)^2 / M      xhat = (x - mean) / sqrt(var + eps)
//   y = gamma xhat + beta
//
//   dbeta = sum dy      dgamma = sum dy xhat
//   dx = gamma / sqrt(var + eps) (dy - mean(dy) - xhat mean(dy xhat))
//
// In evaluation the running statistics replace the batch's, and y is an affine map of x
// recorded as ordinary ops.

#include "tapegrad/function.hpp"

#include <cmath>

namespace tapegrad {

using namespace detail; // the vocabulary of closures: sum_keepdims, reshape

namespace {

/// Sum and sum of squares of n values, in eight lanes that the compiler vectorises (a plain
/// running sum could not be reordered), added up in double.
template <class T> std::pair<double, double> sum_and_squares(const T* values, std::size_t n) {
    constexpr std::size_t lanes = 8;
    T sum[lanes] = {}, squares[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (std::size_t k = 0; k < lanes; ++k) {
            sum[k] += values[i + k];
            squares[k] += values[i + k] * values[i + k];
        }
    double total = 0, total_squares = 0;
    for (std::size_t k = 0; k < lanes; ++k) total += sum[k], total_squares += squares[k];
    for (; i < n; ++i) total += values[i], total_squares += double(values[i]) * values[i];
    return {total, total_squares};
}

/// Sum of a[i] (b[i] - shift) over n values, vectorised likewise.
template <class T> double sum_of_products(const T* a, const T* b, T shift, std::size_t n) {
    constexpr std::size_t lanes = 8;
    T partial[lanes] = {};
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (std::size_t k = 0; k < lanes; ++k) partial[k] += a[i + k] * (b[i + k] - shift);
    double total = 0;
    for (std::size_t k = 0; k < lanes; ++k) total += partial[k];
    for (; i < n; ++i) total += double(a[i]) * (b[i] - shift);
    return total;
}

struct Channels {
    std::size_t count;     // C
    std::size_t per_value; // M: values of one channel in the batch
    Axes axes;             // the axes summed over: {0, 2, 3} or {0}
    Shape broadcast;       // (1, C, 1, 1) or (1, C)
};

template <class T>
Channels channels_of(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                     const Tensor<T>& running_mean, const Tensor<T>& running_var) {
    const Shape s = x.shape();
    const bool images = s.size() == 4, rows = s.size() == 2;
    const Shape channel{images || rows ? s[1] : 0};
    if ((!images && !rows) || s[0] == 0 || gamma.shape() != channel || beta.shape() != channel ||
        running_mean.shape() != channel || running_var.shape() != channel) {
        throw ShapeError(fmt::format("batch_norm: input {} with gamma {}, beta {}, running mean {} "
                                     "and variance {}: expected (N, C, H, W) or "
                                     "(N, C) and (C,) for the others",
                                     format_shape(s), format_shape(gamma.shape()),
                                     format_shape(beta.shape()), format_shape(running_mean.shape()),
                                     format_shape(running_var.shape())));
    }
    if (images) return {s[1], s[0] * s[2] * s[3], {0, 2, 3}, {1, s[1], 1, 1}};
    return {s[1], s[0], {0}, {1, s[1]}};
}

/// The first-order backward on arrays in two passes over the batch (the formula above, per
/// channel): sums of dy and dy xhat, then dx. The same as the closure's tensor form.
template <class T>
void batch_norm_backward(ArrayGradients<T>& d, const Array<T>& dY, const Array<T>& X,
                         const Array<T>& gamma, const Channels& ch, T eps) {
    const AxisView v = view_around_axis(X.shape(), 1);
    std::vector<double> mean(ch.count, 0.0), squares(ch.count, 0.0), sum_dy(ch.count, 0.0),
        sum_dy_xhat(ch.count, 0.0);
    for (std::size_t o = 0; o < v.outer; ++o)
        for (std::size_t c = 0; c < ch.count; ++c) {
            const std::size_t at = (o * ch.count + c) * v.inner;
            const auto [total, total_squares] = sum_and_squares(X.data() + at, v.inner);
            mean[c] += total;
            squares[c] += total_squares;
            sum_dy[c] += sum_and_squares(dY.data() + at, v.inner).first;
        }
    const double m = double(ch.per_value);
    std::vector<double> inv_std(ch.count);
    for (std::size_t c = 0; c < ch.count; ++c) {
        mean[c] /= m;
        inv_std[c] = 1 / std::sqrt(std::max(squares[c] / m - mean[c] * mean[c], 0.0) + double(eps));
    }
    for (std::size_t o = 0; o < v.outer; ++o)
        for (std::size_t c = 0; c < ch.count; ++c) {
            const std::size_t at = (o * ch.count + c) * v.inner;
            sum_dy_xhat[c] +=
                sum_of_products(dY.data() + at, X.data() + at, T(mean[c]), v.inner) * inv_std[c];
        }
    if (d.wants(0)) {
        Array<T> dX = Array<T>::from_shape(X.shape());
        for (std::size_t o = 0; o < v.outer; ++o)
            for (std::size_t c = 0; c < ch.count; ++c) {
                const std::size_t at = (o * ch.count + c) * v.inner;
                const T scale = static_cast<T>(gamma.data()[c] * inv_std[c]),
                        mean_dy = static_cast<T>(sum_dy[c] / m), mean_c = static_cast<T>(mean[c]),
                        inv = static_cast<T>(inv_std[c]),
                        mean_dy_xhat = static_cast<T>(sum_dy_xhat[c] / m);
                for (std::size_t i = 0; i < v.inner; ++i) {
                    const T xhat = (X.data()[at + i] - mean_c) * inv;
                    dX.data()[at + i] = scale * (dY.data()[at + i] - mean_dy - xhat * mean_dy_xhat);
                }
            }
        d.add(0, std::move(dX));
    }
    const auto per_channel = [&](const std::vector<double>& values) {
        Array<T> a = Array<T>::from_shape({ch.count});
        for (std::size_t c = 0; c < ch.count; ++c) a.data()[c] = static_cast<T>(values[c]);
        return a;
    };
    if (d.wants(1)) d.add(1, per_channel(sum_dy_xhat));
    if (d.wants(2)) d.add(2, per_channel(sum_dy));
}

} // namespace

template <class T>
Tensor<T> batch_norm(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                     Tensor<T>& running_mean, Tensor<T>& running_var, bool training,
                     Scalar<T> momentum, Scalar<T> eps) {
    const Channels ch = channels_of(x, gamma, beta, running_mean, running_var);
    if (!training) {
        const Tensor<T> scale = gamma / sqrt(running_var.detach() + eps);
        const Tensor<T> shift = beta - running_mean.detach() * scale;
        return x * reshape(scale, ch.broadcast) + reshape(shift, ch.broadcast);
    }
    if (ch.per_value < 2) {
        throw ValueError(
            fmt::format("batch_norm: training needs more than one value per channel, got input {}",
                        format_shape(x.shape())));
    }
    // Statistics per channel in one pass over the batch, accumulated in double.
    const AxisView v = view_around_axis(as_xtensor(x).shape(), 1);
    std::vector<double> sum(ch.count, 0.0), squares(ch.count, 0.0);
    for (std::size_t o = 0; o < v.outer; ++o)
        for (std::size_t c = 0; c < ch.count; ++c) {
            const auto [total, total_squares] =
                sum_and_squares(x.data() + (o * ch.count + c) * v.inner, v.inner);
            sum[c] += total;
            squares[c] += total_squares;
        }
    std::vector<T> shift(ch.count), scale(ch.count);
    {
        NoGrad statistics;
        T* rm = running_mean.mutable_data();
        T* rv = running_var.mutable_data();
        const double m = double(ch.per_value);
        for (std::size_t c = 0; c < ch.count; ++c) {
            const double mean = sum[c] / m, var = std::max(squares[c] / m - mean * mean, 0.0);
            scale[c] = static_cast<T>(double(gamma.data()[c]) / std::sqrt(var + double(eps)));
            shift[c] = static_cast<T>(double(beta.data()[c]) - mean * scale[c]);
            rm[c] = static_cast<T>((1 - double(momentum)) * rm[c] + double(momentum) * mean);
            rv[c] = static_cast<T>((1 - double(momentum)) * rv[c] +
                                   double(momentum) * var * m / (m - 1));
        }
    }
    Array<T> y = Array<T>::from_shape(as_xtensor(x).shape());
    for (std::size_t o = 0; o < v.outer; ++o)
        for (std::size_t c = 0; c < ch.count; ++c) {
            const std::size_t at = (o * ch.count + c) * v.inner;
            for (std::size_t i = 0; i < v.inner; ++i)
                y.data()[at + i] = x.data()[at + i] * scale[c] + shift[c];
        }
    const T per_value = T(1) / static_cast<T>(ch.per_value);
    return record("batch_norm", {x, gamma, beta}, from_xtensor(std::move(y)), saving(x, gamma),
                  [ch, per_value, eps](auto& d, const auto& dY, const auto& X, const auto& Gamma) {
                      if constexpr (std::is_same_v<std::decay_t<decltype(dY)>, Array<T>>) {
                          batch_norm_backward(d, dY, X, Gamma, ch, eps);
                      } else {
                          const auto mean = d.evaluate(sum_keepdims(X, ch.axes) * per_value);
                          const auto centered = d.evaluate(X - mean);
                          const auto inv_std = d.evaluate(
                              T(1) /
                              sqrt(sum_keepdims(centered * centered, ch.axes) * per_value + eps));
                          const auto xhat = d.evaluate(centered * inv_std);
                          const auto dY_xhat = d.evaluate(dY * xhat);
                          if (d.wants(0)) {
                              d.add(0, reshape(Gamma, ch.broadcast) * inv_std *
                                           (dY - sum_keepdims(dY, ch.axes) * per_value -
                                            xhat * sum_keepdims(dY_xhat, ch.axes) * per_value));
                          }
                          if (d.wants(1))
                              d.add(1, reshape(sum_keepdims(dY_xhat, ch.axes), {ch.count}));
                          if (d.wants(2)) d.add(2, reshape(sum_keepdims(dY, ch.axes), {ch.count}));
                      }
                  });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> batch_norm(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,            \
                                  Tensor<T>&, Tensor<T>&, bool, Scalar<T>, Scalar<T>);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
