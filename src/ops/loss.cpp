// Losses over a batch of S rows, each the mean over the rows (seed 1f, 2a corrected).

#include "ops/record.hpp"
#include "ops/softmax.hpp"
#include "tapegrad/ops.hpp"

#include <fmt/format.h>
#include <xtensor/xmath.hpp>

namespace tapegrad {

using namespace detail; // the vocabulary of ops/record.hpp: record, saved, InputGrads, ...

namespace {

template <class T> void require_batch_of_rows(const char* op, const Tensor<T>& x) {
    if (x.rank() != 2 || x.shape()[0] == 0 || x.shape()[1] == 0) {
        throw ShapeError(
            fmt::format("{}: expected a batch of rows (S, C) with S, C >= 1, got shape {}", op,
                        format_shape(value(x).shape())));
    }
}

template <class T> void require_same_shape(const char* op, const Tensor<T>& a, const Tensor<T>& b) {
    if (value(a).shape() != value(b).shape()) {
        throw ShapeError(fmt::format("{}: shapes {} and {} must be equal", op,
                                     format_shape(value(a).shape()),
                                     format_shape(value(b).shape())));
    }
}

std::vector<std::size_t> all_axes(std::size_t rank) {
    std::vector<std::size_t> axes(rank);
    for (std::size_t k = 0; k < rank; ++k) axes[k] = k;
    return axes;
}

/// One label per row, each a class index in [0, C).
template <class T> void require_labels(const char* op, const Tensor<T>& x, const Labels& labels) {
    const std::size_t rows = x.shape()[0], classes = x.shape()[1];
    if (labels.size() != rows) {
        throw ShapeError(fmt::format("{}: {} labels for {} rows of shape {}", op, labels.size(),
                                     rows, format_shape(value(x).shape())));
    }
    for (std::size_t s = 0; s < rows; ++s) {
        if (labels[s] < 0 || static_cast<std::size_t>(labels[s]) >= classes) {
            throw IndexError(fmt::format("{}: label {} at row {} is out of range for {} classes",
                                         op, labels[s], s, classes));
        }
    }
}

/// The element [s, labels[s]] of row s of a row-major (S, C) buffer.
template <class T> T& at_label(T* rows, std::size_t classes, const Labels& labels, std::size_t s) {
    return rows[s * classes + static_cast<std::size_t>(labels[s])];
}

/// -(1/S) sum(T (.) L): the loss of log-probabilities L against targets T.
template <class T>
Tensor<T> mean_row_cross_entropy(const Array<T>& targets, const Array<T>& log_p) {
    const auto rows = static_cast<T>(targets.shape()[0]);
    return result<T>(
        Array<T>(-xt::sum(targets * log_p, xt::evaluation_strategy::immediate) / rows));
}

} // namespace

// L = -(1/S) sum(T (.) ln P)      dP = -(1/S) T (/) P      dT = -(1/S) ln P
template <class T> Tensor<T> cross_entropy(const Tensor<T>& p, const Tensor<T>& t) {
    require_batch_of_rows("cross_entropy", p);
    require_same_shape("cross_entropy", p, t);
    Tensor<T> loss = mean_row_cross_entropy(value(t), Array<T>(xt::log(value(p))));
    if (recording(p, t))
        record("cross_entropy", loss, {p, t},
               [P = saved(p), Tg = saved_if(p.requires_grad(), t)](const Array<T>& dL,
                                                                   InputGrads<T>& d) {
                   const T scale = -dL() / static_cast<T>(P->shape()[0]);
                   if (d.wants(0)) d.add(0, scale * *Tg / *P);
                   if (d.wants(1)) d.add(1, scale * xt::log(*P));
               });
    return loss;
}

// L = -(1/S) sum(T (.) log softmax(Z))
// dZ = (1/S) (Y (.) (T 1 1^T) - T), Y = softmax(Z); (Y - T)/S for rows of T summing to 1
// dT = -(1/S) log softmax(Z)
template <class T> Tensor<T> softmax_cross_entropy(const Tensor<T>& z, const Tensor<T>& t) {
    require_batch_of_rows("softmax_cross_entropy", z);
    require_same_shape("softmax_cross_entropy", z, t);
    Array<T> log_y = detail::log_softmax_along(value(z), 1);
    Tensor<T> loss = mean_row_cross_entropy(value(t), log_y);
    if (recording(z, t))
        record("softmax_cross_entropy", loss, {z, t},
               [logY = detail::make_pooled<const Array<T>>(std::move(log_y)),
                Tg = saved(t)](const Array<T>& dL, InputGrads<T>& d) {
                   const T scale = dL() / static_cast<T>(Tg->shape()[0]);
                   if (d.wants(0)) {
                       const Array<T> row_sums =
                           xt::sum(*Tg, {1}, xt::keep_dims | xt::evaluation_strategy::immediate);
                       d.add(0, scale * (xt::exp(*logY) * row_sums - *Tg));
                   }
                   if (d.wants(1)) d.add(1, -scale * *logY);
               });
    return loss;
}

// L = -(1/S) sum_s log softmax(Z)[s, labels[s]]      dZ = (Y - onehot(labels)) / S
template <class T> Tensor<T> softmax_cross_entropy(const Tensor<T>& z, const Labels& labels) {
    require_batch_of_rows("softmax_cross_entropy", z);
    require_labels("softmax_cross_entropy", z, labels);
    const std::size_t S = z.shape()[0], C = z.shape()[1];
    Array<T> log_y = detail::log_softmax_along(value(z), 1);
    T total = 0;
    for (std::size_t s = 0; s < S; ++s) total -= at_label(log_y.data(), C, labels, s);
    Tensor<T> loss = Tensor<T>::scalar(total / static_cast<T>(S));
    if (recording(z))
        record("softmax_cross_entropy", loss, {z},
               [logY = detail::make_pooled<const Array<T>>(std::move(log_y)), labels,
                C](const Array<T>& dL, InputGrads<T>& d) {
                   const std::size_t rows = labels.size();
                   const T scale = dL() / static_cast<T>(rows);
                   Array<T> dZ = scale * xt::exp(*logY);
                   for (std::size_t s = 0; s < rows; ++s)
                       at_label(dZ.data(), C, labels, s) -= scale;
                   d.add(0, std::move(dZ));
               });
    return loss;
}

// L = -(1/S) sum_s L[s, labels[s]]      dL[s, labels[s]] = -1/S, 0 elsewhere
template <class T> Tensor<T> nll_loss(const Tensor<T>& log_p, const Labels& labels) {
    require_batch_of_rows("nll_loss", log_p);
    require_labels("nll_loss", log_p, labels);
    const std::size_t S = log_p.shape()[0], C = log_p.shape()[1];
    T total = 0;
    for (std::size_t s = 0; s < S; ++s) total -= at_label(log_p.data(), C, labels, s);
    Tensor<T> loss = Tensor<T>::scalar(total / static_cast<T>(S));
    if (recording(log_p))
        record("nll_loss", loss, {log_p},
               [labels, shape = value(log_p).shape(), C](const Array<T>& dL, InputGrads<T>& d) {
                   Array<T> dlog_p = xt::zeros<T>(shape);
                   const T scale = -dL() / static_cast<T>(labels.size());
                   for (std::size_t s = 0; s < labels.size(); ++s)
                       at_label(dlog_p.data(), C, labels, s) = scale;
                   d.add(0, std::move(dlog_p));
               });
    return loss;
}

// L = mean((P - T)^2)      dP = 2 (P - T) / n      dT = -dP
template <class T> Tensor<T> mse_loss(const Tensor<T>& p, const Tensor<T>& t) {
    require_same_shape("mse_loss", p, t);
    auto difference = detail::make_pooled<const Array<T>>(value(p) - value(t));
    const auto n = static_cast<T>(difference->size());
    // An empty pair gives 0 / 0 = NaN, as the mean of nothing.
    Tensor<T> loss = result<T>(
        sum_over(Array<T>(*difference * *difference), all_axes(difference->dimension()), false) /
        n);
    if (recording(p, t))
        record("mse_loss", loss, {p, t}, [difference, n](const Array<T>& dL, InputGrads<T>& d) {
            const T scale = T(2) * dL() / n;
            if (d.wants(0)) d.add(0, scale * *difference);
            if (d.wants(1)) d.add(1, -scale * *difference);
        });
    return loss;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> cross_entropy(const Tensor<T>&, const Tensor<T>&);                          \
    template Tensor<T> softmax_cross_entropy(const Tensor<T>&, const Tensor<T>&);                  \
    template Tensor<T> softmax_cross_entropy(const Tensor<T>&, const Labels&);                     \
    template Tensor<T> nll_loss(const Tensor<T>&, const Labels&);                                  \
    template Tensor<T> mse_loss(const Tensor<T>&, const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
