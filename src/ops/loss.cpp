// Losses over a batch of S rows, each the mean over the rows (docs/ops.md).

#include "tapegrad/function.hpp"

#include <xtensor/xmath.hpp>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays: softmax, log_softmax, ...

namespace {

template <class T> void require_batch_of_rows(const char* op, const Tensor<T>& x) {
    if (x.rank() != 2 || x.shape()[0] == 0 || x.shape()[1] == 0) {
        throw ShapeError(
            fmt::format("{}: expected a batch of rows (S, C) with S, C >= 1, got shape {}", op,
                        format_shape(x.shape())));
    }
}

template <class T> void require_same_shape(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
    if (a.shape() != b.shape()) {
        throw ShapeError(fmt::format("{}: shapes {} and {} must be equal", op,
                                     format_shape(a.shape()), format_shape(b.shape())));
    }
}

/// One label per row, each a class index in [0, C).
template <class T> void require_labels(const char* op, const Tensor<T>& x, const Labels& labels) {
    const std::size_t rows = x.shape()[0], classes = x.shape()[1];
    if (labels.size() != rows) {
        throw ShapeError(fmt::format("{}: {} labels for {} rows of shape {}", op, labels.size(),
                                     rows, format_shape(x.shape())));
    }
    for (std::size_t s = 0; s < rows; ++s) {
        if (labels[s] < 0 || static_cast<std::size_t>(labels[s]) >= classes) {
            throw IndexError(fmt::format("{}: label {} at row {} is out of range for {} classes",
                                         op, labels[s], s, classes));
        }
    }
}

/// -(1/S) sum_s rows[s, labels[s]] of a row-major (S, C) buffer.
template <class T> T mean_at_labels(const T* rows, std::size_t classes, const Labels& labels) {
    T total = 0;
    for (std::size_t s = 0; s < labels.size(); ++s)
        total -= rows[s * classes + static_cast<std::size_t>(labels[s])];
    return total / static_cast<T>(labels.size());
}

/// -(1/S) sum(T (.) L): the loss of log-probabilities L against targets T.
template <class T, class E>
Tensor<T> mean_row_cross_entropy(const Array<T>& targets, const E& log_p) {
    const auto rows = static_cast<T>(targets.shape()[0]);
    return from_xtensor(
        Array<T>(-xt::sum(targets * log_p, xt::evaluation_strategy::immediate) / rows));
}

} // namespace

template <class T> Array<T> detail::one_hot(const Labels& labels, std::size_t classes) {
    Array<T> rows = xt::zeros<T>({labels.size(), classes});
    for (std::size_t s = 0; s < labels.size(); ++s)
        rows(s, static_cast<std::size_t>(labels[s])) = T(1);
    return rows;
}

// L = -(1/S) sum(T (.) ln P)      dP = -(1/S) T (/) P      dT = -(1/S) ln P
template <class T> Tensor<T> cross_entropy(const Tensor<T>& p, const Tensor<T>& t) {
    require_batch_of_rows("cross_entropy", p);
    require_same_shape("cross_entropy", p, t);
    const Tensor<T> loss = mean_row_cross_entropy(as_xtensor(t), xt::log(as_xtensor(p)));
    return record("cross_entropy", {p, t}, loss, saving(p, t),
                  [](auto& d, const auto& dL, const auto& P, const auto& Tg) {
                      const T scale = T(-1) / static_cast<T>(P.shape()[0]);
                      if (d.wants(0)) d.add(0, dL * Tg / P * scale);
                      if (d.wants(1)) d.add(1, dL * log(P) * scale);
                  });
}

// L = -(1/S) sum(T (.) log softmax(Z))
// dZ = (1/S) (softmax(Z) (.) (T 1 1^T) - T), which is (softmax(Z) - T)/S for rows of T summing to 1
// dT = -(1/S) log softmax(Z)
template <class T> Tensor<T> softmax_cross_entropy(const Tensor<T>& z, const Tensor<T>& t) {
    require_batch_of_rows("softmax_cross_entropy", z);
    require_same_shape("softmax_cross_entropy", z, t);
    const Tensor<T> loss =
        mean_row_cross_entropy(as_xtensor(t), detail::log_softmax(as_xtensor(z), 1));
    return record("softmax_cross_entropy", {z, t}, loss, saving(z, t),
                  [](auto& d, const auto& dL, const auto& Z, const auto& Tg) {
                      const T scale = T(1) / static_cast<T>(Z.shape()[0]);
                      if (d.wants(0))
                          d.add(0, dL * (softmax(Z, 1) * sum_keepdims(Tg, {1}) - Tg) * scale);
                      if (d.wants(1)) d.add(1, dL * log_softmax(Z, 1) * -scale);
                  });
}

// L = -(1/S) sum_s log softmax(Z)[s, labels[s]]      dZ = (softmax(Z) - onehot(labels)) / S
template <class T> Tensor<T> softmax_cross_entropy(const Tensor<T>& z, const Labels& labels) {
    require_batch_of_rows("softmax_cross_entropy", z);
    require_labels("softmax_cross_entropy", z, labels);
    const std::size_t C = z.shape()[1];
    const Array<T> log_y = detail::log_softmax(as_xtensor(z), 1);
    const Tensor<T> loss = Tensor<T>::scalar(mean_at_labels(log_y.data(), C, labels));
    return record("softmax_cross_entropy", {z}, loss, saving(z),
                  [labels, C](auto& d, const auto& dL, const auto& Z) {
                      const T scale = T(1) / static_cast<T>(labels.size());
                      d.add(0, dL * (softmax(Z, 1) - d.constant(one_hot<T>(labels, C))) * scale);
                  });
}

// L = -(1/S) sum_s L[s, labels[s]]      dL[s, labels[s]] = -1/S, 0 elsewhere
template <class T> Tensor<T> nll_loss(const Tensor<T>& log_p, const Labels& labels) {
    require_batch_of_rows("nll_loss", log_p);
    require_labels("nll_loss", log_p, labels);
    const std::size_t C = log_p.shape()[1];
    const Tensor<T> loss = Tensor<T>::scalar(mean_at_labels(log_p.data(), C, labels));
    return record("nll_loss", {log_p}, loss, [labels, C](auto& d, const auto& dL) {
        const T scale = T(-1) / static_cast<T>(labels.size());
        d.add(0, dL * d.constant(one_hot<T>(labels, C)) * scale);
    });
}

// L = mean((P - T)^2)      dP = 2 (P - T) / n      dT = -dP
template <class T> Tensor<T> mse_loss(const Tensor<T>& p, const Tensor<T>& t) {
    require_same_shape("mse_loss", p, t);
    const T* predicted = p.data();
    const T* wanted = t.data();
    const auto n = static_cast<T>(p.size());
    T total = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
        total += (predicted[i] - wanted[i]) * (predicted[i] - wanted[i]);
    // An empty pair gives 0 / 0 = NaN, as the mean of nothing.
    const Tensor<T> loss = Tensor<T>::scalar(total / n);
    return record("mse_loss", {p, t}, loss, saving(p, t),
                  [n](auto& d, const auto& dL, const auto& P, const auto& Tg) {
                      const T scale = T(2) / n;
                      if (d.wants(0)) d.add(0, dL * (P - Tg) * scale);
                      if (d.wants(1)) d.add(1, dL * (P - Tg) * -scale);
                  });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Array<T> detail::one_hot(const Labels&, std::size_t);                                 \
    template Tensor<T> cross_entropy(const Tensor<T>&, const Tensor<T>&);                          \
    template Tensor<T> softmax_cross_entropy(const Tensor<T>&, const Tensor<T>&);                  \
    template Tensor<T> softmax_cross_entropy(const Tensor<T>&, const Labels&);                     \
    template Tensor<T> nll_loss(const Tensor<T>&, const Labels&);                                  \
    template Tensor<T> mse_loss(const Tensor<T>&, const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
