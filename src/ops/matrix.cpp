// Matrix products. They go to GEMM with transpose flags, so no transposed copy is ever
// made, and gradients accumulate in place through beta.

#include "engine/gemm.hpp"
#include "tapegrad/function.hpp"

#include <xtensor/xmanipulation.hpp>

#include <algorithm>

namespace tapegrad {

using namespace detail; // the vocabulary of closures: matmul on arrays, transposed, ...

namespace detail {

namespace {

/// (batch, rows, cols) of a matrix or a stack of matrices, as stored.
struct MatrixStack {
    std::size_t batch, rows, cols;
};

template <class T> MatrixStack matrix_stack(const Array<T>& a) {
    const auto& s = a.shape();
    return a.dimension() == 2 ? MatrixStack{1, s[0], s[1]} : MatrixStack{s[0], s[1], s[2]};
}

template <class T> std::string describe(const MatrixProduct<T>& p) {
    return fmt::format("{}{} and {}{}", format_shape(p.a.shape()),
                       p.transpose_a ? " transposed" : "", format_shape(p.b.shape()),
                       p.transpose_b ? " transposed" : "");
}

} // namespace

template <class T> ArrayShape product_shape(const MatrixProduct<T>& p, const char* op) {
    const bool ranks_ok =
        (p.a.dimension() == 2 || p.a.dimension() == 3) && p.a.dimension() == p.b.dimension();
    if (ranks_ok) {
        const MatrixStack a = matrix_stack(p.a), b = matrix_stack(p.b);
        const std::size_t a_cols = p.transpose_a ? a.rows : a.cols,
                          b_rows = p.transpose_b ? b.cols : b.rows;
        if (a.batch == b.batch && a_cols == b_rows) {
            ArrayShape shape = p.a.shape();
            shape[shape.size() - 2] = p.transpose_a ? a.cols : a.rows;
            shape.back() = p.transpose_b ? b.rows : b.cols;
            return shape;
        }
    }
    throw ShapeError(fmt::format("{}: shapes {} cannot be multiplied", op, describe(p)));
}

template <class T>
void multiply_into(const MatrixProduct<T>& p, T beta, Array<T>& c, const char* op) {
    const ArrayShape shape = product_shape(p, op);
    if (!same_shape<T>(shape, c.shape())) {
        throw ShapeError(fmt::format("{}: the product of {} has shape {}, not {}", op, describe(p),
                                     format_shape(shape), format_shape(c.shape())));
    }
    const MatrixStack a = matrix_stack(p.a);
    const std::size_t M = shape[shape.size() - 2], N = shape.back(),
                      K = p.transpose_a ? a.rows : a.cols;
    const Transpose ta = p.transpose_a ? Transpose::yes : Transpose::no;
    const Transpose tb = p.transpose_b ? Transpose::yes : Transpose::no;
    for (std::size_t i = 0; i < a.batch; ++i) // op(A) [M, K] x op(B) [K, N] -> [M, N]
        gemm(ta, tb, M, N, K, T(1), p.a.data() + i * M * K, p.b.data() + i * K * N, beta,
             c.data() + i * M * N);
}

template <class T> Array<T> evaluate(const MatrixProduct<T>& p, const char* op) {
    Array<T> c = empty_array<T>(product_shape(p, op));
    multiply_into(p, T(0), c, op);
    return c;
}

} // namespace detail

// C = op(A) op(B), op(X) = X or X^T (per matrix of a batch)
// d op(A) = dC op(B)^T        d op(B) = op(A)^T dC
// so dA = dC op(B)^T (or op(B) dC^T when A is transposed), dB likewise.
template <class T>
Tensor<T> detail::matmul_transposed(const Tensor<T>& a, bool transpose_a, const Tensor<T>& b,
                                    bool transpose_b) {
    const MatrixProduct<T> product{as_xtensor(a), transpose_a, as_xtensor(b), transpose_b};
    return record("matmul", {a, b}, from_xtensor(evaluate(product, "matmul")),
                  saving(save_if(b.requires_grad(), a), save_if(a.requires_grad(), b)),
                  [ta = transpose_a, tb = transpose_b](auto& d, const auto& dC, const auto& A,
                                                       const auto& B) {
                      if (d.wants(0)) {
                          d.add(0, ta ? matmul(transposed_if(tb, B), transposed(dC))
                                      : matmul(dC, transposed_if(!tb, B)));
                      }
                      if (d.wants(1)) {
                          d.add(1, tb ? matmul(transposed(dC), transposed_if(ta, A))
                                      : matmul(transposed_if(!ta, A), dC));
                      }
                  });
}

// Y = A B        dA = dY B^T        dB = A^T dY
template <class T> Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
    return detail::matmul_transposed(a, false, b, false);
}

// Y = X^T (last two axes)      dX = dY^T
template <class T> Tensor<T> matrix_transpose(const Tensor<T>& x) {
    if (x.rank() < 2) {
        throw ShapeError(
            fmt::format("matrix_transpose: a tensor of shape {} has no two axes to swap",
                        format_shape(as_xtensor(x).shape())));
    }
    std::vector<std::size_t> swapped(x.rank());
    for (std::size_t k = 0; k < swapped.size(); ++k) swapped[k] = k;
    std::swap(swapped[x.rank() - 2], swapped[x.rank() - 1]);
    return transpose(x, swapped);
}

// Y = X W^T + b     dX = dY W     dW = dY^T X     db = 1^T dY     (docs/ops.md, the linear layer)
// X [S, M], W [N, M], b [N], Y [S, N]. Without b, the b terms drop out.
template <class T>
Tensor<T> linear_with_optional_bias(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b) {
    const Array<T>& inputs = as_xtensor(x);
    const Array<T>& weights = as_xtensor(w);
    const bool matrices_ok = inputs.dimension() == 2 && weights.dimension() == 2 &&
                             inputs.shape()[1] == weights.shape()[1];
    const bool bias_ok = !b || (b->rank() == 1 && b->shape()[0] == weights.shape()[0]);
    if (!matrices_ok || !bias_ok) {
        throw ShapeError(fmt::format("linear: X {} and W {}{} do not fit Y = X W^T + b (X (S, M), "
                                     "W (N, M), b (N,))",
                                     format_shape(inputs.shape()), format_shape(weights.shape()),
                                     b ? " and b " + format_shape(as_xtensor(*b).shape()) : ""));
    }
    const std::size_t S = inputs.shape()[0], N = weights.shape()[0];
    Array<T> Y = empty_array<T>({S, N});
    if (b) {
        for (std::size_t s = 0; s < S; ++s) std::copy_n(b->data(), N, Y.data() + s * N);
    }
    multiply_into(detail::matmul(inputs, detail::transposed(weights)), T(b ? 1 : 0), Y,
                  "linear"); // onto b's rows
    const Tensor<T> y = from_xtensor(std::move(Y));

    auto backward = [](auto& d, const auto& dY, const auto& X, const auto& W) {
        if (d.wants(0)) d.add(0, matmul(dY, W));             // [S, N] x [N, M] -> [S, M]
        if (d.wants(1)) d.add(1, matmul(transposed(dY), X)); // [N, S] x [S, M] -> [N, M]
        if (d.input_count() > 2 && d.wants(2)) d.add(2, dY); // [S, N] summed over S -> [N]
    };
    const auto saved = saving(save_if(w.requires_grad(), x), save_if(x.requires_grad(), w));
    if (b) return record("linear", {x, w, *b}, y, saved, backward);
    return record("linear", {x, w}, y, saved, backward);
}

template <class T> Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
    return linear_with_optional_bias(x, w, &b);
}

template <class T> Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w) {
    return linear_with_optional_bias<T>(x, w, nullptr);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template void detail::multiply_into(const detail::MatrixProduct<T>&, T, Array<T>&,             \
                                        const char*);                                              \
    template Array<T> detail::evaluate(const detail::MatrixProduct<T>&, const char*);              \
    template Tensor<T> detail::matmul_transposed(const Tensor<T>&, bool, const Tensor<T>&, bool);  \
    template Tensor<T> matmul(const Tensor<T>&, const Tensor<T>&);                                 \
    template Tensor<T> matrix_transpose(const Tensor<T>&);                                         \
    template Tensor<T> linear(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&);               \
    template Tensor<T> linear(const Tensor<T>&, const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
