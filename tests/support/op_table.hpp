#pragma once
// The ops that random programs (tests/random_graphs) and the graph fuzzer (tests/fuzz) call,
// one row each: the name, how a program listing writes the call, and the call itself. The
// placeholders of the written form also say which arguments the op takes, so the fuzzer
// reads exactly those from its input. A new op gets a row here; random programs also need
// operands for it that keep finite differences accurate (graph_generator.cpp, try_op).

#include "tapegrad/ops.hpp"
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace tapegrad::testing {

/// The rows of op_table(), in order.
enum class Op {
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
    maximum,
    minimum,
    clamp,
    where, // (mask, a, b)
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
    matrix_transpose,
    linear,
    linear_without_bias,
    transpose, // axes reversed
    permute,   // transpose with a permutation
    reshape,
    flatten,
    squeeze,
    unsqueeze,
    expand,
    narrow,
    select,
    index_select,
    cat,   // of two tensors
    stack, // of two tensors
    sum,
    sum_axes,
    mean,
    mean_axes,
    max,
    min,
    conv2d, // with a bias
    conv2d_without_bias,
    max_pool2d,
    avg_pool2d,
    batch_norm, // running statistics of a given shape, fresh: zeros and ones
    softmax,
    log_softmax,
    cross_entropy,
    softmax_cross_entropy_targets,
    softmax_cross_entropy_labels,
    nll_loss,
    mse_loss,
    // Later rows go here, at the end: the fuzzer's corpus names rows by position.
    slice,       // with a step
    squeeze_all, // every size-1 axis
    split,       // one of the pieces
};

/// What an op takes besides its tensor operands; each op reads the fields its form names.
struct OpArguments {
    double scalar = 0;      // {s}: s, pow's exponent, leaky_relu's slope, elu's alpha, clamp's low
    double upper = 0;       // {upper}: clamp's high
    Axes axes;              // {axes}: sum and mean; {axis}: the one axis; {axis_range}: two
    bool keepdims = false;  // {keepdims}
    Shape shape_argument;   // {shape}: reshape's and expand's shape; {permutation}: transpose's;
                            // {sizes}: split's piece sizes
    std::size_t start = 0;  // {start}: narrow's and slice's first entry, select's entry;
                            // {part}: the piece of split taken
    std::size_t length = 0; // {length}: narrow's
    std::size_t stop = 0;   // {stop}: slice's end
    std::size_t step = 1;   // {step}: slice's
    Labels labels;          // {labels}: classes; {indices}: index_select's
    Size2d kernel;          // {kernel}: pooling
    Conv2dOptions window;   // {window}: stride and padding; {dilation}: convolution's
    Shape statistics;       // {statistics}: the shape of batch_norm's running mean and variance
    bool training = true;   // {training}: batch_norm's mode
};

/// What a placeholder in a written form stands for.
enum class Argument {
    scalar,
    upper,
    axes,
    axis,
    axis_range,
    keepdims,
    shape,
    permutation,
    start,
    length,
    stop,
    step,
    sizes,
    part,
    labels,
    indices,
    kernel,
    window,
    dilation,
    statistics,
    training,
};

using Operands = std::vector<Tensor<double>>;

struct OpRow {
    Op op;
    const char* name; // unique: "x + s", "matmul batched", "sum axes", ...
    const char* form; // the call as a listing writes it: {0}-{2} operands, {s}, {axes}, ...
    double weight;    // how often random programs try the op, relative to 1
    Tensor<double> (*call)(const Operands& x, const OpArguments& arguments);
};

/// Every op, row k for Op(k).
const std::vector<OpRow>& op_table();
const OpRow& op_row(Op op);

/// How many tensor operands the row's form names.
std::size_t operand_count(const OpRow& row);
/// The arguments the row's form names, in the order they appear.
std::vector<Argument> arguments_of(const OpRow& row);

/// The call written out with `operands` (their names) and `arguments`: "v1 + (-0.5)",
/// "sum(v3, {0, -1}, keepdims)", "max_pool2d(v2, kernel 2, stride 1, padding 0)".
std::string written_call(const OpRow& row, const std::vector<std::string>& operands,
                         const OpArguments& arguments);

} // namespace tapegrad::testing
