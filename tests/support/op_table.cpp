#include "op_table.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace tapegrad::testing {

namespace {

using In = const Operands&;
using With = const OpArguments&;

std::vector<OpRow> make_table() {
    // Scalar losses and reductions weigh less, so that most of a program works on tensors;
    // the matrix products weigh more, as they often find no operand of a fitting shape.
    return {
        {Op::add, "add", "{0} + {1}", 1, [](In x, With) { return x[0] + x[1]; }},
        {Op::sub, "sub", "{0} - {1}", 1, [](In x, With) { return x[0] - x[1]; }},
        {Op::mul, "mul", "{0} * {1}", 1, [](In x, With) { return x[0] * x[1]; }},
        {Op::div, "div", "{0} / {1}", 1, [](In x, With) { return x[0] / x[1]; }},
        {Op::neg, "neg", "-{0}", 1, [](In x, With) { return -x[0]; }},
        {Op::add_scalar, "x + s", "{0} + {s}", 1, [](In x, With a) { return x[0] + a.scalar; }},
        {Op::scalar_add, "s + x", "{s} + {0}", 1, [](In x, With a) { return a.scalar + x[0]; }},
        {Op::sub_scalar, "x - s", "{0} - {s}", 1, [](In x, With a) { return x[0] - a.scalar; }},
        {Op::scalar_sub, "s - x", "{s} - {0}", 1, [](In x, With a) { return a.scalar - x[0]; }},
        {Op::mul_scalar, "x * s", "{0} * {s}", 1, [](In x, With a) { return x[0] * a.scalar; }},
        {Op::scalar_mul, "s * x", "{s} * {0}", 1, [](In x, With a) { return a.scalar * x[0]; }},
        {Op::div_scalar, "x / s", "{0} / {s}", 1, [](In x, With a) { return x[0] / a.scalar; }},
        {Op::scalar_div, "s / x", "{s} / {0}", 1, [](In x, With a) { return a.scalar / x[0]; }},
        {Op::pow, "pow", "pow({0}, {s})", 1, [](In x, With a) { return pow(x[0], a.scalar); }},
        {Op::maximum, "maximum", "maximum({0}, {1})", 1,
         [](In x, With) { return maximum(x[0], x[1]); }},
        {Op::minimum, "minimum", "minimum({0}, {1})", 1,
         [](In x, With) { return minimum(x[0], x[1]); }},
        {Op::clamp, "clamp", "clamp({0}, {s}, {upper})", 1,
         [](In x, With a) { return clamp(x[0], a.scalar, a.upper); }},
        {Op::where, "where", "where({0}, {1}, {2})", 1,
         [](In x, With) { return where(x[0], x[1], x[2]); }},
        {Op::relu, "relu", "relu({0})", 1, [](In x, With) { return relu(x[0]); }},
        {Op::leaky_relu, "leaky_relu", "leaky_relu({0}, {s})", 1,
         [](In x, With a) { return leaky_relu(x[0], a.scalar); }},
        {Op::elu, "elu", "elu({0}, {s})", 1, [](In x, With a) { return elu(x[0], a.scalar); }},
        {Op::tanh, "tanh", "tanh({0})", 1, [](In x, With) { return tanh(x[0]); }},
        {Op::sigmoid, "sigmoid", "sigmoid({0})", 1, [](In x, With) { return sigmoid(x[0]); }},
        {Op::exp, "exp", "exp({0})", 1, [](In x, With) { return exp(x[0]); }},
        {Op::log, "log", "log({0})", 1, [](In x, With) { return log(x[0]); }},
        {Op::sqrt, "sqrt", "sqrt({0})", 1, [](In x, With) { return sqrt(x[0]); }},
        {Op::abs, "abs", "abs({0})", 1, [](In x, With) { return abs(x[0]); }},
        {Op::matmul, "matmul", "matmul({0}, {1})", 2,
         [](In x, With) { return matmul(x[0], x[1]); }},
        {Op::batched_matmul, "matmul batched", "matmul({0}, {1})", 2,
         [](In x, With) { return matmul(x[0], x[1]); }},
        {Op::matrix_transpose, "matrix_transpose", "matrix_transpose({0})", 1,
         [](In x, With) { return matrix_transpose(x[0]); }},
        {Op::linear, "linear", "linear({0}, {1}, {2})", 2,
         [](In x, With) { return linear(x[0], x[1], x[2]); }},
        {Op::linear_without_bias, "linear without bias", "linear({0}, {1})", 2,
         [](In x, With) { return linear(x[0], x[1]); }},
        {Op::transpose, "transpose", "transpose({0})", 1,
         [](In x, With) { return transpose(x[0]); }},
        {Op::permute, "transpose permutation", "transpose({0}, {permutation})", 1,
         [](In x, With a) { return transpose(x[0], a.shape_argument); }},
        {Op::reshape, "reshape", "reshape({0}, {shape})", 1,
         [](In x, With a) { return reshape(x[0], a.shape_argument); }},
        {Op::flatten, "flatten", "flatten({0}, {axis_range})", 1,
         [](In x, With a) { return flatten(x[0], a.axes.at(0), a.axes.at(1)); }},
        {Op::squeeze, "squeeze", "squeeze({0}, {axis})", 1,
         [](In x, With a) { return squeeze(x[0], a.axes.at(0)); }},
        {Op::unsqueeze, "unsqueeze", "unsqueeze({0}, {axis})", 1,
         [](In x, With a) { return unsqueeze(x[0], a.axes.at(0)); }},
        {Op::expand, "expand", "expand({0}, {shape})", 1,
         [](In x, With a) { return expand(x[0], a.shape_argument); }},
        {Op::narrow, "narrow", "narrow({0}, {axis}, {start}, {length})", 1,
         [](In x, With a) { return narrow(x[0], a.axes.at(0), a.start, a.length); }},
        {Op::select, "select", "select({0}, {axis}, {start})", 1,
         [](In x, With a) { return select(x[0], a.axes.at(0), a.start); }},
        {Op::index_select, "index_select", "index_select({0}, {axis}, {indices})", 1,
         [](In x, With a) { return index_select(x[0], a.axes.at(0), a.labels); }},
        {Op::cat, "cat", "cat([{0}, {1}], {axis})", 1,
         [](In x, With a) {
             return cat(Operands{x[0], x[1]}, a.axes.at(0));
         }},
        {Op::stack, "stack", "stack([{0}, {1}], {axis})", 1,
         [](In x, With a) {
             return stack(Operands{x[0], x[1]}, a.axes.at(0));
         }},
        {Op::sum, "sum", "sum({0})", 0.5, [](In x, With) { return sum(x[0]); }},
        {Op::sum_axes, "sum axes", "sum({0}, {axes}{keepdims})", 1,
         [](In x, With a) { return sum(x[0], a.axes, a.keepdims); }},
        {Op::mean, "mean", "mean({0})", 0.5, [](In x, With) { return mean(x[0]); }},
        {Op::mean_axes, "mean axes", "mean({0}, {axes}{keepdims})", 1,
         [](In x, With a) { return mean(x[0], a.axes, a.keepdims); }},
        {Op::max, "max", "max({0}, {axis}{keepdims})", 1,
         [](In x, With a) { return max(x[0], a.axes.at(0), a.keepdims); }},
        {Op::min, "min", "min({0}, {axis}{keepdims})", 1,
         [](In x, With a) { return min(x[0], a.axes.at(0), a.keepdims); }},
        {Op::conv2d, "conv2d", "conv2d({0}, {1}, {2}, {window}, {dilation})", 1,
         [](In x, With a) { return conv2d(x[0], x[1], x[2], a.window); }},
        {Op::conv2d_without_bias, "conv2d without bias", "conv2d({0}, {1}, {window}, {dilation})",
         1, [](In x, With a) { return conv2d(x[0], x[1], a.window); }},
        {Op::max_pool2d, "max_pool2d", "max_pool2d({0}, {kernel}, {window})", 1,
         [](In x, With a) {
             return max_pool2d(x[0], a.kernel, a.window.stride, a.window.padding);
         }},
        {Op::avg_pool2d, "avg_pool2d", "avg_pool2d({0}, {kernel}, {window})", 1,
         [](In x, With a) {
             return avg_pool2d(x[0], a.kernel, a.window.stride, a.window.padding);
         }},
        {Op::batch_norm, "batch_norm", "batch_norm({0}, {1}, {2}, {statistics}, {training})", 1,
         [](In x, With a) {
             Tensor<double> running_mean = Tensor<double>::zeros(a.statistics),
                            running_var = Tensor<double>::ones(a.statistics);
             return batch_norm(x[0], x[1], x[2], running_mean, running_var, a.training);
         }},
        {Op::softmax, "softmax", "softmax({0}, {axis})", 1,
         [](In x, With a) { return softmax(x[0], a.axes.at(0)); }},
        {Op::log_softmax, "log_softmax", "log_softmax({0}, {axis})", 1,
         [](In x, With a) { return log_softmax(x[0], a.axes.at(0)); }},
        {Op::cross_entropy, "cross_entropy", "cross_entropy({0}, {1})", 0.5,
         [](In x, With) { return cross_entropy(x[0], x[1]); }},
        {Op::softmax_cross_entropy_targets, "softmax_cross_entropy targets",
         "softmax_cross_entropy({0}, {1})", 0.5,
         [](In x, With) { return softmax_cross_entropy(x[0], x[1]); }},
        {Op::softmax_cross_entropy_labels, "softmax_cross_entropy labels",
         "softmax_cross_entropy({0}, {labels})", 0.5,
         [](In x, With a) { return softmax_cross_entropy(x[0], a.labels); }},
        {Op::nll_loss, "nll_loss", "nll_loss({0}, {labels})", 0.5,
         [](In x, With a) { return nll_loss(x[0], a.labels); }},
        {Op::mse_loss, "mse_loss", "mse_loss({0}, {1})", 0.5,
         [](In x, With) { return mse_loss(x[0], x[1]); }},
        {Op::slice, "slice", "slice({0}, {axis}, {start}, {stop}, {step})", 1,
         [](In x, With a) { return slice(x[0], a.axes.at(0), a.start, a.stop, a.step); }},
        {Op::squeeze_all, "squeeze all", "squeeze({0})", 1,
         [](In x, With) { return squeeze(x[0]); }},
        {Op::split, "split", "split({0}, {sizes}, {axis})[{part}]", 1,
         [](In x, With a) { return split(x[0], a.shape_argument, a.axes.at(0)).at(a.start); }},
    };
}

std::string number(double x) {
    std::ostringstream text;
    text << x;
    return text.str();
}

template <class List> std::string braced(const List& items) {
    std::string text = "{";
    for (std::size_t i = 0; i < items.size(); ++i)
        text += (i ? ", " : "") + number(static_cast<double>(items[i]));
    return text + "}";
}

/// A piece of a written form: literal text, an operand, or an argument.
struct Piece {
    std::string text;
    int operand = -1; // >= 0: {0}, {1}, {2}
    bool is_argument = false;
    Argument argument = Argument::scalar;
};

Argument argument_named(const std::string& name) {
    static const std::pair<const char*, Argument> names[] = {
        {"s", Argument::scalar},
        {"upper", Argument::upper},
        {"axes", Argument::axes},
        {"axis", Argument::axis},
        {"axis_range", Argument::axis_range},
        {"keepdims", Argument::keepdims},
        {"shape", Argument::shape},
        {"permutation", Argument::permutation},
        {"start", Argument::start},
        {"length", Argument::length},
        {"stop", Argument::stop},
        {"step", Argument::step},
        {"sizes", Argument::sizes},
        {"part", Argument::part},
        {"labels", Argument::labels},
        {"indices", Argument::indices},
        {"kernel", Argument::kernel},
        {"window", Argument::window},
        {"dilation", Argument::dilation},
        {"statistics", Argument::statistics},
        {"training", Argument::training},
    };
    for (const auto& [text, argument] : names)
        if (name == text) return argument;
    throw std::logic_error("op table: unknown placeholder {" + name + "}");
}

std::vector<Piece> parse_form(const char* form) {
    std::vector<Piece> pieces;
    const std::string text = form;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t open = text.find('{', at);
        if (open != at) {
            pieces.push_back({text.substr(at, open - at)});
            if (open == std::string::npos) break;
        }
        const std::size_t close = text.find('}', open);
        const std::string name = text.substr(open + 1, close - open - 1);
        Piece piece;
        if (name.size() == 1 && name[0] >= '0' && name[0] <= '9') {
            piece.operand = name[0] - '0';
        } else {
            piece.is_argument = true;
            piece.argument = argument_named(name);
        }
        pieces.push_back(piece);
        at = close + 1;
    }
    return pieces;
}

/// `argument` as a listing shows it. A negative scalar between operators gets parentheses:
/// "v1 - (-0.5)".
std::string shown(Argument argument, const OpArguments& a, bool in_call) {
    switch (argument) {
    case Argument::scalar:
        return a.scalar < 0 && !in_call ? "(" + number(a.scalar) + ")" : number(a.scalar);
    case Argument::upper:
        return number(a.upper);
    case Argument::axes:
        return braced(a.axes);
    case Argument::axis:
        return a.axes.empty() ? "{}" : number(a.axes[0]);
    case Argument::axis_range:
        return a.axes.size() < 2 ? "{}" : number(a.axes[0]) + ", " + number(a.axes[1]);
    case Argument::keepdims:
        return a.keepdims ? ", keepdims" : "";
    case Argument::shape:
    case Argument::permutation:
        return braced(a.shape_argument);
    case Argument::start:
        return number(double(a.start));
    case Argument::length:
        return number(double(a.length));
    case Argument::stop:
        return number(double(a.stop));
    case Argument::step:
        return number(double(a.step));
    case Argument::sizes:
        return braced(a.shape_argument);
    case Argument::part:
        return number(double(a.start));
    case Argument::labels:
        return "labels " + braced(a.labels);
    case Argument::indices:
        return braced(a.labels);
    case Argument::kernel:
        return "kernel " + number(double(a.kernel.h));
    case Argument::window:
        return "stride " + number(double(a.window.stride.h)) + ", padding " +
               number(double(a.window.padding.h));
    case Argument::dilation:
        return "dilation " + number(double(a.window.dilation.h));
    case Argument::statistics:
        return "statistics " + braced(a.statistics);
    case Argument::training:
        return a.training ? "training" : "evaluation";
    }
    throw std::logic_error("op table: unknown argument");
}

} // namespace

const std::vector<OpRow>& op_table() {
    static const std::vector<OpRow> table = [] {
        std::vector<OpRow> rows = make_table();
        for (std::size_t k = 0; k < rows.size(); ++k)
            if (rows[k].op != Op(k))
                throw std::logic_error(std::string("op table: row ") + rows[k].name +
                                       " is out of the order of enum Op");
        return rows;
    }();
    return table;
}

const OpRow& op_row(Op op) {
    return op_table().at(static_cast<std::size_t>(op));
}

namespace {

/// The pieces of a row's form, parsed once for every row.
const std::vector<Piece>& pieces_of(const OpRow& row) {
    static const std::vector<std::vector<Piece>> parsed = [] {
        std::vector<std::vector<Piece>> forms;
        for (const OpRow& each : op_table()) forms.push_back(parse_form(each.form));
        return forms;
    }();
    return parsed.at(static_cast<std::size_t>(row.op));
}

} // namespace

std::size_t operand_count(const OpRow& row) {
    std::size_t count = 0;
    for (const Piece& piece : pieces_of(row))
        if (piece.operand >= 0) count = std::max(count, std::size_t(piece.operand) + 1);
    return count;
}

std::vector<Argument> arguments_of(const OpRow& row) {
    std::vector<Argument> arguments;
    for (const Piece& piece : pieces_of(row))
        if (piece.is_argument) arguments.push_back(piece.argument);
    return arguments;
}

std::string written_call(const OpRow& row, const std::vector<std::string>& operands,
                         const OpArguments& arguments) {
    std::string text;
    for (const Piece& piece : pieces_of(row)) {
        if (piece.operand >= 0) {
            text += operands.at(std::size_t(piece.operand));
        } else if (piece.is_argument) {
            const bool in_call = (!text.empty() && text.back() == '(') ||
                                 (text.size() >= 2 && text.compare(text.size() - 2, 2, ", ") == 0);
            text += shown(piece.argument, arguments, in_call);
        } else {
            text += piece.text;
        }
    }
    return text;
}

} // namespace tapegrad::testing
