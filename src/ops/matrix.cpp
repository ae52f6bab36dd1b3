// Matrix products and shape changes. Products go to BLAS with transpose flags, so no
// transposed copy is ever made, and gradients accumulate in place through beta.

#include "ops/blas.hpp"
#include "ops/record.hpp"
#include "tapegrad/ops.hpp"

#include <fmt/format.h>
#include <xtensor/xmanipulation.hpp>

#include <algorithm>

namespace tapegrad {

using namespace detail; // the vocabulary of ops/record.hpp: record, saved, InputGrads, ...

namespace {

/// beta for accumulating a product into an adjoint: overwrite a fresh one, add to an old one.
template <class T> T accumulate_beta(bool fresh) {
    return fresh ? T(0) : T(1);
}

/// (batch, rows, cols) of a matrix or a stack of matrices.
struct MatrixStack {
    std::size_t batch, rows, cols;
};

template <class T> MatrixStack matrix_stack(const Array<T>& a) {
    const auto& s = a.shape();
    return a.dimension() == 2 ? MatrixStack{1, s[0], s[1]} : MatrixStack{s[0], s[1], s[2]};
}

} // namespace

// Y = A B        dA = dY B^T        dB = A^T dY        (per matrix of a batch)
template <class T> Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
    const Array<T>& A = value(a);
    const Array<T>& B = value(b);
    const bool ranks_ok =
        (A.dimension() == 2 || A.dimension() == 3) && A.dimension() == B.dimension();
    if (!ranks_ok || (A.dimension() == 3 && A.shape()[0] != B.shape()[0]) ||
        A.shape()[A.dimension() - 1] != B.shape()[B.dimension() - 2]) {
        throw ShapeError(fmt::format("matmul: shapes {} and {} cannot be multiplied",
                                     format_shape(A.shape()), format_shape(B.shape())));
    }
    const auto [batch, M, K] = matrix_stack(A);
    const std::size_t N = B.shape()[B.dimension() - 1];
    ArrayShape y_shape = A.shape();
    y_shape.back() = N;
    Array<T> Y = empty_array<T>(y_shape);
    for (std::size_t i = 0; i < batch; ++i) // [M, K] x [K, N] -> [M, N]
        gemm(Transpose::no, Transpose::no, M, N, K, T(1), A.data() + i * M * K,
             B.data() + i * K * N, T(0), Y.data() + i * M * N);

    Tensor<T> y = result<T>(std::move(Y));
    if (recording(a, b))
        record("matmul", y, {a, b},
               [A = saved_if(b.requires_grad(), a), B = saved_if(a.requires_grad(), b),
                batch = batch, M = M, K = K, N](const Array<T>& dY, InputGrads<T>& d) {
                   bool fresh = false;
                   if (d.wants(0)) {
                       T* dA = d.target(0, fresh).data();
                       for (std::size_t i = 0; i < batch; ++i) // [M, N] x [N, K] -> [M, K]
                           gemm(Transpose::no, Transpose::yes, M, K, N, T(1), dY.data() + i * M * N,
                                B->data() + i * K * N, accumulate_beta<T>(fresh), dA + i * M * K);
                   }
                   if (d.wants(1)) {
                       T* dB = d.target(1, fresh).data();
                       for (std::size_t i = 0; i < batch; ++i) // [K, M] x [M, N] -> [K, N]
                           gemm(Transpose::yes, Transpose::no, K, N, M, T(1), A->data() + i * M * K,
                                dY.data() + i * M * N, accumulate_beta<T>(fresh), dB + i * K * N);
                   }
               });
    return y;
}

// Y = X W^T + b     dX = dY W     dW = dY^T X     db = 1^T dY     (seed 1a-1c)
// X [S, M], W [N, M], b [N], Y [S, N]. Without b, the b terms drop out.
template <class T>
Tensor<T> linear_with_optional_bias(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b) {
    const Array<T>& X = value(x);
    const Array<T>& W = value(w);
    const bool matrices_ok =
        X.dimension() == 2 && W.dimension() == 2 && X.shape()[1] == W.shape()[1];
    const bool bias_ok = !b || (value(*b).dimension() == 1 && value(*b).shape()[0] == W.shape()[0]);
    if (!matrices_ok || !bias_ok) {
        throw ShapeError(fmt::format("linear: X {} and W {}{} do not fit Y = X W^T + b (X (S, M), "
                                     "W (N, M), b (N,))",
                                     format_shape(X.shape()), format_shape(W.shape()),
                                     b ? " and b " + format_shape(value(*b).shape()) : ""));
    }
    const std::size_t S = X.shape()[0], M = X.shape()[1], N = W.shape()[0];
    Array<T> Y = empty_array<T>({S, N});
    if (b) {
        for (std::size_t s = 0; s < S; ++s) std::copy_n(value(*b).data(), N, Y.data() + s * N);
    }
    // [S, M] x [M, N] -> [S, N], added onto the bias rows
    gemm(Transpose::no, Transpose::yes, S, N, M, T(1), X.data(), W.data(), T(b ? 1 : 0), Y.data());

    Tensor<T> y = result<T>(std::move(Y));
    if (!recording(x, w) && !(b && recording(*b))) return y;
    auto backward = [X = saved_if(w.requires_grad(), x), W = saved_if(x.requires_grad(), w), S, M,
                     N](const Array<T>& dY, InputGrads<T>& d) {
        bool fresh = false;
        if (d.wants(0)) { // dX = dY W: [S, N] x [N, M] -> [S, M]
            T* dX = d.target(0, fresh).data();
            gemm(Transpose::no, Transpose::no, S, M, N, T(1), dY.data(), W->data(),
                 accumulate_beta<T>(fresh), dX);
        }
        if (d.wants(1)) { // dW = dY^T X: [N, S] x [S, M] -> [N, M]
            T* dW = d.target(1, fresh).data();
            gemm(Transpose::yes, Transpose::no, N, M, S, T(1), dY.data(), X->data(),
                 accumulate_beta<T>(fresh), dW);
        }
        if (d.input_count() > 2 && d.wants(2)) { // db = 1^T dY: column sums, [S, N] -> [N]
            T* db = d.target(2, fresh).data();
            if (fresh) std::fill_n(db, N, T(0));
            for (std::size_t s = 0; s < S; ++s) {
                const T* row = dY.data() + s * N;
                for (std::size_t n = 0; n < N; ++n) db[n] += row[n];
            }
        }
    };
    if (b)
        record("linear", y, {x, w, *b}, std::move(backward));
    else
        record("linear", y, {x, w}, std::move(backward));
    return y;
}

template <class T> Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
    return linear_with_optional_bias(x, w, &b);
}

template <class T> Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w) {
    return linear_with_optional_bias<T>(x, w, nullptr);
}

// y = x with its axes permuted     dx = dy with the inverse permutation
template <class T>
Tensor<T> transpose(const Tensor<T>& x, const std::vector<std::size_t>& permutation) {
    const Array<T>& X = value(x);
    std::vector<std::size_t> inverse(permutation.size(), X.dimension());
    for (std::size_t k = 0; k < permutation.size(); ++k) {
        if (permutation[k] < inverse.size()) inverse[permutation[k]] = k;
    }
    const bool is_permutation =
        permutation.size() == X.dimension() &&
        std::find(inverse.begin(), inverse.end(), X.dimension()) == inverse.end();
    if (!is_permutation) {
        throw IndexError(
            fmt::format("transpose: ({}) is not a permutation of the axes of a tensor of shape {}",
                        fmt::join(permutation, ", "), format_shape(X.shape())));
    }
    Tensor<T> y = result<T>(xt::transpose(X, permutation));
    if (recording(x))
        record("transpose", y, {x}, [inverse](const Array<T>& dy, InputGrads<T>& d) {
            d.add(0, xt::transpose(dy, inverse));
        });
    return y;
}

template <class T> Tensor<T> transpose(const Tensor<T>& x) {
    std::vector<std::size_t> reversed(x.rank());
    for (std::size_t k = 0; k < reversed.size(); ++k) reversed[k] = reversed.size() - 1 - k;
    return transpose(x, reversed);
}

// y = x's elements with another shape of the same size     dx = dy with x's shape
template <class T> Tensor<T> reshape(const Tensor<T>& x, const Shape& shape) {
    const Array<T>& X = value(x);
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    if (count != X.size()) {
        throw ShapeError(
            fmt::format("reshape: cannot reshape {} ({} elements) into {} ({} elements)",
                        format_shape(X.shape()), X.size(), format_shape(shape), count));
    }
    Array<T> Y = X;
    Y.reshape(shape);
    Tensor<T> y = result<T>(std::move(Y));
    if (recording(x))
        record("reshape", y, {x}, [x_shape = X.shape()](const Array<T>& dy, InputGrads<T>& d) {
            Array<T> dx = dy;
            dx.reshape(x_shape);
            d.add(0, std::move(dx));
        });
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> matmul(const Tensor<T>&, const Tensor<T>&);                                 \
    template Tensor<T> transpose(const Tensor<T>&);                                                \
    template Tensor<T> transpose(const Tensor<T>&, const std::vector<std::size_t>&);               \
    template Tensor<T> reshape(const Tensor<T>&, const Shape&);                                    \
    template Tensor<T> linear(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&);               \
    template Tensor<T> linear(const Tensor<T>&, const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
