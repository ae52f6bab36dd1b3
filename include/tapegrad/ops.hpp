#pragma once
// The differentiable ops. Each one records a node with its backward when an input requires
// a gradient and recording is on; docs/ops.md gives every forward and backward formula.
// Binary arithmetic broadcasts with NumPy's rules. Axes may be negative (counted from the
// end). Defined and instantiated for float and double in src/ops/.

#include "tapegrad/tensor.hpp"

#include <cstdint>
#include <vector>

namespace tapegrad {

template <class U> struct Identity { using type = U; };
/// A scalar operand takes the tensor's element type: `x * 2.0` stays float for a float x.
template <class T> using Scalar = typename Identity<T>::type;

/// Class indices, one per row, for the label forms of the losses.
using Labels = std::vector<std::int64_t>;
using Axes = std::vector<int>;

// Arithmetic (src/ops/arithmetic.cpp)
template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator-(const Tensor<T>& x);
template <class T> Tensor<T> operator+(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator+(Scalar<T> s, const Tensor<T>& x);
template <class T> Tensor<T> operator-(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator-(Scalar<T> s, const Tensor<T>& x);
template <class T> Tensor<T> operator*(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator*(Scalar<T> s, const Tensor<T>& x);
template <class T> Tensor<T> operator/(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator/(Scalar<T> s, const Tensor<T>& x);
/// x^p elementwise.
template <class T> Tensor<T> pow(const Tensor<T>& x, Scalar<T> p);

// Elementwise functions (src/ops/elementwise.cpp). At the kink x = 0 the gradient is 0 for
// relu and abs (sign(0) = 0), the slope for leaky_relu and alpha for elu.
template <class T> Tensor<T> relu(const Tensor<T>& x);
template <class T> Tensor<T> leaky_relu(const Tensor<T>& x, Scalar<T> negative_slope = T(0.01));
template <class T> Tensor<T> elu(const Tensor<T>& x, Scalar<T> alpha = T(1));
template <class T> Tensor<T> tanh(const Tensor<T>& x);
template <class T> Tensor<T> sigmoid(const Tensor<T>& x);
template <class T> Tensor<T> exp(const Tensor<T>& x);
template <class T> Tensor<T> log(const Tensor<T>& x);
template <class T> Tensor<T> sqrt(const Tensor<T>& x);
template <class T> Tensor<T> abs(const Tensor<T>& x);

// Shapes and matrices (src/ops/matrix.cpp)
/// (M, K) x (K, N) -> (M, N), or batched (B, M, K) x (B, K, N) -> (B, M, N).
template <class T> Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b);
/// Reverses the axes (NumPy's .T); a matrix is transposed.
template <class T> Tensor<T> transpose(const Tensor<T>& x);
/// Permutes the axes: result axis i is input axis `permutation[i]`.
template <class T>
Tensor<T> transpose(const Tensor<T>& x, const std::vector<std::size_t>& permutation);
template <class T> Tensor<T> reshape(const Tensor<T>& x, const Shape& shape);
/// Y = X W^T + b: X (S, M), W (N, M), b (N) -> Y (S, N).
template <class T> Tensor<T> linear(const Tensor<T>& X, const Tensor<T>& W, const Tensor<T>& b);
/// Y = X W^T.
template <class T> Tensor<T> linear(const Tensor<T>& X, const Tensor<T>& W);

// Reductions (src/ops/reduction.cpp)
template <class T> Tensor<T> sum(const Tensor<T>& x);
template <class T> Tensor<T> sum(const Tensor<T>& x, const Axes& axes, bool keepdims = false);
template <class T> Tensor<T> mean(const Tensor<T>& x);
template <class T> Tensor<T> mean(const Tensor<T>& x, const Axes& axes, bool keepdims = false);
/// The maximum along `axis`; the gradient goes to the first maximal element.
template <class T> Tensor<T> max(const Tensor<T>& x, int axis, bool keepdims = false);

// Softmax family and losses (src/ops/softmax.cpp, src/ops/loss.cpp). The losses return a
// rank-0 tensor; all but mse_loss take a batch of rows (S, C) and average over the S rows.
template <class T> Tensor<T> softmax(const Tensor<T>& x, int axis = -1);
template <class T> Tensor<T> log_softmax(const Tensor<T>& x, int axis = -1);
/// -(1/S) sum(T (.) ln P) for probabilities P and targets T of the same shape.
template <class T>
Tensor<T> cross_entropy(const Tensor<T>& probabilities, const Tensor<T>& targets);
/// cross_entropy(softmax(Z), T) fused through log-sum-exp; T one-hot or probabilities.
template <class T>
Tensor<T> softmax_cross_entropy(const Tensor<T>& logits, const Tensor<T>& targets);
/// The same with the target of row s the class labels[s].
template <class T> Tensor<T> softmax_cross_entropy(const Tensor<T>& logits, const Labels& labels);
/// -(1/S) sum_s log_probabilities[s, labels[s]].
template <class T> Tensor<T> nll_loss(const Tensor<T>& log_probabilities, const Labels& labels);
/// mean((prediction - target)^2) over all elements; the shapes must be equal.
template <class T> Tensor<T> mse_loss(const Tensor<T>& prediction, const Tensor<T>& target);

} // namespace tapegrad
