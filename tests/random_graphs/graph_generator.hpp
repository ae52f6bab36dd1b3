#pragma once
// Random differentiable programs for gradient testing. A program is a list of steps in double
// precision; step i defines the value v_i from earlier values. The generator tracks every
// value's shape and contents while it builds, so each step it emits is valid and its
// operands stay away from kinks, poles, ties and large magnitudes: finite differences of a
// generated program are accurate to well within gradcheck's default tolerances.

#include "tapegrad/ops.hpp"
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad::testing {

/// The kinds of step. input and constant come first and mse_loss last (computing_ops()
/// lists the range between).
enum class Op {
    input,    // a leaf requiring a gradient: Program::inputs[slot]
    constant, // a loss target requiring none: Program::constants[slot]
    add,
    sub,
    mul,
    div,
    neg,
    add_scalar, // x + s
    scalar_add, // s + x
    sub_scalar, // x - s
    scalar_sub, // s - x
    mul_scalar, // x * s
    scalar_mul, // s * x
    div_scalar, // x / s
    scalar_div, // s / x
    pow,
    relu,
    leaky_relu,
    elu,
    tanh,
    sigmoid,
    exp,
    log,
    sqrt,
    abs,
    matmul,         // 2-D
    batched_matmul, // 3-D
    transpose,      // axes reversed
    permute,        // transpose with a permutation
    reshape,
    linear,
    linear_without_bias,
    sum,
    sum_axes,
    mean,
    mean_axes,
    max,
    softmax,
    log_softmax,
    cross_entropy,
    softmax_cross_entropy_targets,
    softmax_cross_entropy_labels,
    nll_loss,
    conv2d,     // with a bias; stride, padding, dilation in Step::window
    max_pool2d, // kernel in Step::kernel, stride and padding in Step::window
    avg_pool2d,
    batch_norm, // training mode, fresh running statistics: (x, gamma, beta)
    mse_loss,
};

/// Every Op that computes something (all but input and constant), for coverage counts.
std::vector<Op> computing_ops();

/// A short readable name: "add", "x + s", "matmul batched", ...
std::string op_name(Op op);

struct Step {
    Op op = Op::input;
    std::vector<std::size_t> operands; // indices of earlier values
    std::size_t slot = 0;              // input and constant: the position in their list
    double scalar = 0;                 // s, pow's exponent, leaky_relu's slope, elu's alpha
    Axes axes;                         // sum/mean over axes; max, softmax: the one axis
    bool keepdims = false;
    Shape shape_argument; // reshape: the new shape; permute: the permutation
    Labels labels;
    Size2d kernel;        // pooling
    Conv2dOptions window; // convolution: stride, padding, dilation; pooling: stride, padding
    Shape shape;          // the value's shape
    std::string note;     // input and constant: how their values were drawn
};

struct Program {
    /// gradcheck's inputs: leaves requiring gradients.
    std::vector<Tensor<double>> inputs;
    /// Loss targets that require no gradient.
    std::vector<Tensor<double>> constants;
    /// steps[i] defines v_i; the last value is the program's output.
    std::vector<Step> steps;

    /// Evaluates every step with `leaves` (of the shapes of `inputs`) in place of `inputs`.
    Tensor<double> run(const std::vector<Tensor<double>>& leaves) const;

    /// One line per step: `v3 = linear(v0, v1, v2)    # (4, 3)`.
    std::string to_string() const;

    /// The steps that compute something (all but inputs and constants).
    std::size_t op_count() const;
};

/// A random program of up to about 50 steps with 1-4 inputs, reproducible from `seed`.
Program random_program(std::uint64_t seed);

} // namespace tapegrad::testing
