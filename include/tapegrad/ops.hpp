#pragma once
// The differentiable ops. Each one records a node with its backward when an input requires
// a gradient and recording is on; docs/ops.md gives every forward and backward formula.
// Binary arithmetic broadcasts with NumPy's rules. Axes may be negative (counted from the
// end). Defined and instantiated for float and double in src/ops/.

#include "tapegrad/tensor.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace tapegrad {

template <class U> struct Identity { using type = U; };
/// A scalar operand takes the tensor's element type: `x * 2.0` stays float for a float x.
template <class T> using Scalar = typename Identity<T>::type;

/// Integer positions with a shape: argmax's result, gather's index.
struct Indices {
    Shape shape;
    std::vector<std::int64_t> values; // row-major
};

/// Row-major positions of elements of a tensor, shared by an op and its backward.
using FlatPositions = std::shared_ptr<const std::vector<std::size_t>>;

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
/// The larger (smaller) of a and b elementwise; at a tie the gradient goes to a.
template <class T> Tensor<T> maximum(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> minimum(const Tensor<T>& a, const Tensor<T>& b);
/// x limited to [low, high]; the gradient is 0 where it was limited.
template <class T> Tensor<T> clamp(const Tensor<T>& x, Scalar<T> low, Scalar<T> high);

// Masks and selection (src/ops/arithmetic.cpp). A comparison gives a mask: a tensor of 1
// where it holds and 0 elsewhere, without gradient; where() selects by a mask.
template <class T> Tensor<T> operator>(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator<(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator>=(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator<=(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator==(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator!=(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator>(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator<(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator>=(const Tensor<T>& x, Scalar<T> s);
template <class T> Tensor<T> operator<=(const Tensor<T>& x, Scalar<T> s);
/// a where mask is non-zero, b elsewhere (all three broadcast together).
template <class T> Tensor<T> where(const Tensor<T>& mask, const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> where(const Tensor<T>& mask, const Tensor<T>& a, Scalar<T> b);
template <class T> Tensor<T> where(const Tensor<T>& mask, Scalar<T> a, const Tensor<T>& b);
template <class T> Tensor<T> where(const Tensor<T>& mask, Scalar<T> a, Scalar<T> b);

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
/// -1, 0 or 1 elementwise; no gradient flows through it.
template <class T> Tensor<T> sign(const Tensor<T>& x);

// Matrices (src/ops/matrix.cpp)
/// (M, K) x (K, N) -> (M, N), or batched (B, M, K) x (B, K, N) -> (B, M, N).
template <class T> Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b);
/// The last two axes swapped: a matrix transposed, each of a batch of matrices transposed.
template <class T> Tensor<T> matrix_transpose(const Tensor<T>& x);
/// Y = X W^T + b: X (S, M), W (N, M), b (N) -> Y (S, N).
template <class T> Tensor<T> linear(const Tensor<T>& X, const Tensor<T>& W, const Tensor<T>& b);
/// Y = X W^T.
template <class T> Tensor<T> linear(const Tensor<T>& X, const Tensor<T>& W);

// Shapes (src/ops/shaping.cpp)
/// Reverses the axes (NumPy's .T); a matrix is transposed.
template <class T> Tensor<T> transpose(const Tensor<T>& x);
/// Permutes the axes: result axis i is input axis `permutation[i]`.
template <class T>
Tensor<T> transpose(const Tensor<T>& x, const std::vector<std::size_t>& permutation);
/// x's elements with another shape of the same size; one extent may be -1 (inferred).
template <class T>
Tensor<T> reshape(const Tensor<T>& x, const detail::IntegerList<std::int64_t>& shape);
/// Axes first..last (inclusive) merged into one; flatten(x) keeps the batch axis 0.
template <class T> Tensor<T> flatten(const Tensor<T>& x, int first = 1, int last = -1);
/// Without the size-1 `axis`; squeeze(x) drops every size-1 axis.
template <class T> Tensor<T> squeeze(const Tensor<T>& x, int axis);
template <class T> Tensor<T> squeeze(const Tensor<T>& x);
/// With a size-1 axis inserted at `axis` (in [-rank-1, rank]).
template <class T> Tensor<T> unsqueeze(const Tensor<T>& x, int axis);
/// x broadcast to `shape` (NumPy's broadcast_to); the gradient sums the broadcast axes.
template <class T> Tensor<T> expand(const Tensor<T>& x, const Shape& shape);
/// The sum of x over the axes that broadcasting `shape` to x's shape added: expand's adjoint.
template <class T> Tensor<T> sum_to_shape(const Tensor<T>& x, const Shape& shape);

// Indexing and joining (src/ops/indexing.cpp)
/// `length` entries of `axis` from `start` (PyTorch's narrow): slice(x, axis, start, start +
/// length).
template <class T>
Tensor<T> narrow(const Tensor<T>& x, int axis, std::size_t start, std::size_t length);
/// Entries [start, stop) of `axis`, every `step`-th.
template <class T>
Tensor<T> slice(const Tensor<T>& x, int axis, std::size_t start, std::size_t stop,
                std::size_t step = 1);
/// Entry `index` of `axis`, the axis removed.
template <class T> Tensor<T> select(const Tensor<T>& x, int axis, std::size_t index);
/// The entries `indices` (repeats allowed) of `axis`, in that order.
template <class T> Tensor<T> index_select(const Tensor<T>& x, int axis, const Labels& indices);
/// y[..., j, ...] = x[..., index[..., j, ...], ...] along `axis` (PyTorch's gather): index has
/// x's rank and, off `axis`, extents no larger than x's.
template <class T> Tensor<T> gather(const Tensor<T>& x, int axis, const Indices& index);
/// The tensors joined along an existing axis; their other extents must agree.
template <class T> Tensor<T> cat(const std::vector<Tensor<T>>& tensors, int axis = 0);
/// The tensors (all of one shape) joined along a new axis.
template <class T> Tensor<T> stack(const std::vector<Tensor<T>>& tensors, int axis = 0);
/// x cut along `axis` into pieces of the given extents (which must add up to x's).
template <class T>
std::vector<Tensor<T>> split(const Tensor<T>& x, const Shape& sizes, int axis = 0);
/// y of `shape` with y.flat[j] = x.flat[positions[j]]; its adjoint is scatter_flat.
template <class T>
Tensor<T> gather_flat(const Tensor<T>& x, FlatPositions positions, const Shape& shape);
/// y of `shape`, zero but for y.flat[positions[j]] += x.flat[j]; its adjoint is gather_flat.
template <class T>
Tensor<T> scatter_flat(const Tensor<T>& x, FlatPositions positions, const Shape& shape);

// Reductions (src/ops/reduction.cpp)
template <class T> Tensor<T> sum(const Tensor<T>& x);
template <class T> Tensor<T> sum(const Tensor<T>& x, const Axes& axes, bool keepdims = false);
/// sum(x, axes, true): the reduced axes stay as size-1 axes, so the result broadcasts back.
template <class T> Tensor<T> sum_keepdims(const Tensor<T>& x, const Axes& axes);
template <class T> Tensor<T> mean(const Tensor<T>& x);
template <class T> Tensor<T> mean(const Tensor<T>& x, const Axes& axes, bool keepdims = false);
/// The maximum (minimum) along `axis`; the gradient goes to the first such element.
template <class T> Tensor<T> max(const Tensor<T>& x, int axis, bool keepdims = false);
template <class T> Tensor<T> min(const Tensor<T>& x, int axis, bool keepdims = false);
/// The position of the first maximum (minimum) along `axis`, the axis removed; no gradient.
template <class T> Indices argmax(const Tensor<T>& x, int axis);
template <class T> Indices argmin(const Tensor<T>& x, int axis);

// Convolution, pooling and normalisation on images in NCHW layout (batch, channels, height,
// width): src/ops/convolution.cpp, pooling.cpp, normalization.cpp.

/// A size along height and width; one number means both.
struct Size2d {
    std::size_t h = 1, w = 1;
    Size2d(std::size_t both = 1) : h(both), w(both) {}
    Size2d(std::size_t height, std::size_t width) : h(height), w(width) {}
};

/// As PyTorch's conv2d: Conv2dOptions{stride, padding, dilation}, e.g. {1, 1} pads by one.
struct Conv2dOptions {
    Size2d stride = 1;
    Size2d padding = 0;
    Size2d dilation = 1;
};

/// Y = X * W + b, a 2-D cross-correlation: X (N, C, H, W), W (O, C, kH, kW), b (O) ->
/// Y (N, O, H', W') with H' = (H + 2 padding - dilation (kH - 1) - 1) / stride + 1.
template <class T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                 const Conv2dOptions& options = {});
template <class T>
Tensor<T> conv2d(const Tensor<T>& x, const Tensor<T>& w, const Conv2dOptions& options = {});
/// The adjoints of conv2d: its gradient with respect to the input (a transposed convolution
/// of g, to an input of `x_shape`) and to the weight (of `w_shape`). Differentiable
/// themselves, so that conv2d's gradients are.
template <class T>
Tensor<T> conv2d_input_grad(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape,
                            const Conv2dOptions& options = {});
template <class T>
Tensor<T> conv2d_weight_grad(const Tensor<T>& x, const Tensor<T>& g, const Shape& w_shape,
                             const Conv2dOptions& options = {});

/// The maximum of each kernel window (stride 0 means the kernel's size; padding counts as
/// minus infinity); the gradient goes to the first maximum of each window.
template <class T>
Tensor<T> max_pool2d(const Tensor<T>& x, Size2d kernel, Size2d stride = 0, Size2d padding = 0);
/// The mean of each kernel window, padding counted as zeros (PyTorch's default).
template <class T>
Tensor<T> avg_pool2d(const Tensor<T>& x, Size2d kernel, Size2d stride = 0, Size2d padding = 0);
/// avg_pool2d's adjoint: each element of g spread evenly over its window of an input of
/// `x_shape`.
template <class T>
Tensor<T> avg_pool2d_adjoint(const Tensor<T>& g, const Shape& x_shape, Size2d kernel,
                             Size2d stride = 0, Size2d padding = 0);

/// Batch normalisation over (N, H, W) for each channel of x (N, C, H, W), or over N for x
/// (N, C): Y = gamma (X - mean) / sqrt(var + eps) + beta. Training uses the batch's mean
/// and (biased) variance and moves the running statistics towards them by `momentum`
/// (with the unbiased variance, as PyTorch); evaluation uses the running statistics.
template <class T>
Tensor<T> batch_norm(const Tensor<T>& x, const Tensor<T>& gamma, const Tensor<T>& beta,
                     Tensor<T>& running_mean, Tensor<T>& running_var, bool training,
                     Scalar<T> momentum = T(0.1), Scalar<T> eps = T(1e-5));

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
