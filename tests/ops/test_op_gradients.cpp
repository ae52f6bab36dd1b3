// Every differentiable op against central finite differences: in double on several shapes
// (broadcasting with size-1 axes and rank-0 scalars among them), and a float smoke test.

#include "random_tensors.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace tapegrad {
namespace {

using testing::Domain;

template <class T> struct OpCase {
    std::string name;
    std::vector<Shape> input_shapes;
    std::vector<Domain> domains; // per input; missing entries mean Domain::any
    std::function<Tensor<T>(const std::vector<Tensor<T>>&)> f;
};

const Labels labels_for_four_rows{2, 0, 4, 2};

template <class T> std::vector<OpCase<T>> op_cases() {
    using In = const std::vector<Tensor<T>>&;
    const Domain any = Domain::any, apart = Domain::away_from_zero, positive = Domain::positive;
    std::vector<OpCase<T>> cases;
    // Broadcasting arithmetic: equal shapes, a row, size-1 axes on both sides, a scalar.
    const std::vector<std::pair<Shape, Shape>> pairs{{{3, 4}, {3, 4}}, {{3, 4}, {4}},
                                                     {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}},
                                                     {{}, {2, 3}},     {{1}, {5}}};
    for (const auto& [a, b] : pairs) {
        cases.push_back({"add", {a, b}, {}, [](In x) { return x[0] + x[1]; }});
        cases.push_back({"sub", {a, b}, {}, [](In x) { return x[0] - x[1]; }});
        cases.push_back({"mul", {a, b}, {}, [](In x) { return x[0] * x[1]; }});
        cases.push_back({"div", {a, b}, {any, apart}, [](In x) { return x[0] / x[1]; }});
        cases.push_back({"reused operand", {a, b}, {}, [](In x) { return (x[0] * x[1]) * x[0]; }});
    }
    cases.push_back({"neg", {{3, 4}}, {}, [](In x) { return -x[0]; }});
    cases.push_back({"x + s", {{3, 4}}, {}, [](In x) { return x[0] + T(2); }});
    cases.push_back({"s + x", {{3}}, {}, [](In x) { return T(2) + x[0]; }});
    cases.push_back({"x - s", {{3, 4}}, {}, [](In x) { return x[0] - T(2); }});
    cases.push_back({"s - x", {{}}, {}, [](In x) { return T(2) - x[0]; }});
    cases.push_back({"x * s", {{3, 4}}, {}, [](In x) { return x[0] * T(3); }});
    cases.push_back({"s * x", {{2, 1}}, {}, [](In x) { return T(3) * x[0]; }});
    cases.push_back({"x / s", {{3, 4}}, {}, [](In x) { return x[0] / T(3); }});
    cases.push_back({"s / x", {{3, 4}}, {apart}, [](In x) { return T(3) / x[0]; }});
    cases.push_back({"pow 3", {{2, 3}}, {}, [](In x) { return pow(x[0], T(3)); }});
    cases.push_back({"pow 0.5", {{2, 3}}, {positive}, [](In x) { return pow(x[0], T(0.5)); }});
    cases.push_back({"pow -2", {{4}}, {apart}, [](In x) { return pow(x[0], T(-2)); }});
    // Elementwise functions.
    for (const Shape& s : std::vector<Shape>{{3, 4}, {}, {2, 1, 3}}) {
        cases.push_back({"relu", {s}, {apart}, [](In x) { return relu(x[0]); }});
        cases.push_back(
            {"leaky_relu", {s}, {apart}, [](In x) { return leaky_relu(x[0], T(0.1)); }});
        cases.push_back({"elu", {s}, {apart}, [](In x) { return elu(x[0], T(1.5)); }});
        cases.push_back({"tanh", {s}, {}, [](In x) { return tanh(x[0]); }});
        cases.push_back({"sigmoid", {s}, {}, [](In x) { return sigmoid(x[0]); }});
        cases.push_back({"exp", {s}, {}, [](In x) { return exp(x[0]); }});
        cases.push_back({"log", {s}, {positive}, [](In x) { return log(x[0]); }});
        cases.push_back({"sqrt", {s}, {positive}, [](In x) { return sqrt(x[0]); }});
        cases.push_back({"abs", {s}, {apart}, [](In x) { return abs(x[0]); }});
    }
    // Matrices and shapes.
    cases.push_back({"matmul", {{3, 4}, {4, 5}}, {}, [](In x) { return matmul(x[0], x[1]); }});
    cases.push_back({"matmul 1x1", {{1, 1}, {1, 1}}, {}, [](In x) { return matmul(x[0], x[1]); }});
    cases.push_back(
        {"matmul batched", {{2, 3, 4}, {2, 4, 5}}, {}, [](In x) { return matmul(x[0], x[1]); }});
    cases.push_back({"transpose", {{3, 4}}, {}, [](In x) { return transpose(x[0]); }});
    cases.push_back({"transpose permutation", {{2, 3, 4}}, {}, [](In x) {
                         return transpose(x[0], {1, 2, 0});
                     }});
    cases.push_back({"reshape", {{3, 4}}, {}, [](In x) { return reshape(x[0], {2, 6}); }});
    cases.push_back(
        {"reshape to rank 1", {{2, 3, 4}}, {}, [](In x) { return reshape(x[0], {24}); }});
    cases.push_back(
        {"linear", {{5, 4}, {3, 4}, {3}}, {}, [](In x) { return linear(x[0], x[1], x[2]); }});
    cases.push_back({"linear one row", {{1, 4}, {2, 4}, {2}}, {}, [](In x) {
                         return linear(x[0], x[1], x[2]);
                     }});
    cases.push_back(
        {"linear without bias", {{5, 4}, {3, 4}}, {}, [](In x) { return linear(x[0], x[1]); }});
    cases.push_back({"linear twice on one input", {{5, 4}, {4, 4}, {4}}, {}, [](In x) {
                         return linear(linear(x[0], x[1], x[2]), x[1], x[2]);
                     }});
    cases.push_back(
        {"matrix_transpose", {{2, 3, 4}}, {}, [](In x) { return matrix_transpose(x[0]); }});
    cases.push_back({"reshape with -1", {{2, 3, 4}}, {}, [](In x) {
                         return reshape(x[0], {4, -1});
                     }});
    cases.push_back({"flatten", {{2, 3, 4}}, {}, [](In x) { return flatten(x[0]); }});
    cases.push_back({"squeeze unsqueeze", {{3, 1, 4}}, {}, [](In x) {
                         return unsqueeze(squeeze(x[0], 1), 0);
                     }});
    cases.push_back({"expand", {{3, 1}}, {}, [](In x) { return expand(x[0], {2, 3, 4}); }});
    cases.push_back({"sum_to_shape", {{2, 3, 4}}, {}, [](In x) {
                         return sum_to_shape(x[0], {3, 1});
                     }});
    // Indexing and joining.
    cases.push_back({"narrow", {{4, 5}}, {}, [](In x) { return narrow(x[0], 1, 1, 3); }});
    cases.push_back(
        {"slice with a step", {{6, 2}}, {}, [](In x) { return slice(x[0], 0, 1, 6, 2); }});
    cases.push_back({"select", {{3, 4, 2}}, {}, [](In x) { return select(x[0], -2, 2); }});
    cases.push_back({"index_select with repeats", {{4, 3}}, {}, [](In x) {
                         return index_select(x[0], 0, {3, 0, 3, 1});
                     }});
    cases.push_back({"gather", {{3, 4}}, {}, [](In x) {
                         return gather(x[0], 1, Indices{{3, 2}, {0, 3, 1, 1, 2, 0}});
                     }});
    cases.push_back({"cat", {{2, 3}, {4, 3}, {1, 3}}, {}, [](In x) { return cat(x, 0); }});
    cases.push_back({"stack", {{2, 3}, {2, 3}}, {}, [](In x) { return stack(x, 1); }});
    cases.push_back({"split", {{5, 2}}, {}, [](In x) {
                         const auto pieces = split(x[0], {2, 3});
                         return sum(pieces[0] * pieces[0]) + sum(tanh(pieces[1]));
                     }});
    cases.push_back({"gather_flat and scatter_flat", {{2, 3}}, {}, [](In x) {
                         const FlatPositions p = std::make_shared<const std::vector<std::size_t>>(
                             std::vector<std::size_t>{5, 0, 0, 2});
                         return scatter_flat(tanh(gather_flat(x[0], p, {2, 2})), p, {7});
                     }});
    // Selection.
    cases.push_back({"where", {{3, 4}, {4}}, {}, [](In x) {
                         const Tensor<T> mask({3, 1}, {1, 0, 1});
                         return where(mask, x[0], x[1]);
                     }});
    cases.push_back({"maximum", {{3, 4}, {4}}, {}, [](In x) { return maximum(x[0], x[1]); }});
    cases.push_back({"minimum", {{3, 1}, {4}}, {}, [](In x) { return minimum(x[0], x[1]); }});
    cases.push_back({"clamp", {{3, 4}}, {apart}, [](In x) { return clamp(x[0], T(-1), T(1)); }});
    // Reductions.
    cases.push_back({"sum", {{3, 4}}, {}, [](In x) { return sum(x[0]); }});
    cases.push_back({"sum of a scalar", {{}}, {}, [](In x) { return sum(x[0]); }});
    cases.push_back(
        {"sum axis 0 keepdims", {{3, 4}}, {}, [](In x) { return sum(x[0], {0}, true); }});
    cases.push_back({"sum axes 1 -1", {{2, 3, 4}}, {}, [](In x) { return sum(x[0], {1, -1}); }});
    cases.push_back({"mean", {{3, 4}}, {}, [](In x) { return mean(x[0]); }});
    cases.push_back(
        {"mean axis -1 keepdims", {{2, 3, 4}}, {}, [](In x) { return mean(x[0], {-1}, true); }});
    cases.push_back({"max axis 0", {{3, 4}}, {}, [](In x) { return max(x[0], 0); }});
    cases.push_back(
        {"max axis -1 keepdims", {{2, 3, 4}}, {}, [](In x) { return max(x[0], -1, true); }});
    cases.push_back({"min axis 1", {{2, 3, 4}}, {}, [](In x) { return min(x[0], 1); }});
    cases.push_back({"sum_keepdims", {{2, 3, 4}}, {}, [](In x) {
                         return sum_keepdims(x[0], {0, 2});
                     }});
    cases.push_back({"max axis 1", {{2, 3, 4}}, {}, [](In x) { return max(x[0], 1); }});
    // Convolution, pooling, normalisation: stride, padding, dilation, 1x1 kernels, kernels as
    // large as the input, odd sizes, batch 1.
    using Conv = Conv2dOptions;
    cases.push_back({"conv2d", {{2, 3, 5, 5}, {4, 3, 3, 3}, {4}}, {}, [](In x) {
                         return conv2d(x[0], x[1], x[2]);
                     }});
    cases.push_back({"conv2d stride 2 padding 1", {{1, 2, 7, 6}, {3, 2, 3, 3}, {3}}, {}, [](In x) {
                         return conv2d(x[0], x[1], x[2], Conv{2, 1});
                     }});
    cases.push_back({"conv2d dilation 2", {{2, 1, 7, 7}, {2, 1, 3, 3}}, {}, [](In x) {
                         return conv2d(x[0], x[1], Conv{1, 0, 2});
                     }});
    cases.push_back({"conv2d 1x1", {{2, 3, 4, 4}, {5, 3, 1, 1}, {5}}, {}, [](In x) {
                         return conv2d(x[0], x[1], x[2]);
                     }});
    cases.push_back(
        {"conv2d kernel as large as the input", {{2, 2, 3, 3}, {4, 2, 3, 3}, {4}}, {}, [](In x) {
             return conv2d(x[0], x[1], x[2]);
         }});
    cases.push_back({"conv2d rectangular", {{1, 2, 5, 4}, {2, 2, 3, 2}, {2}}, {}, [](In x) {
                         return conv2d(x[0], x[1], x[2], Conv{{2, 1}, {1, 0}, {1, 1}});
                     }});
    cases.push_back({"conv2d_input_grad", {{2, 3, 3, 3}, {3, 2, 3, 3}}, {}, [](In x) {
                         return conv2d_input_grad(x[0], x[1], {2, 2, 6, 6}, Conv{2, 1});
                     }});
    cases.push_back({"conv2d_weight_grad", {{2, 2, 5, 5}, {2, 3, 3, 3}}, {}, [](In x) {
                         return conv2d_weight_grad(x[0], x[1], {3, 2, 3, 3}, Conv{2, 1});
                     }});
    cases.push_back({"max_pool2d", {{2, 3, 4, 4}}, {}, [](In x) { return max_pool2d(x[0], 2); }});
    cases.push_back({"max_pool2d 3x3 stride 1 padding 1", {{1, 2, 5, 5}}, {}, [](In x) {
                         return max_pool2d(x[0], 3, 1, 1);
                     }});
    cases.push_back({"avg_pool2d", {{2, 3, 4, 6}}, {}, [](In x) { return avg_pool2d(x[0], 2); }});
    cases.push_back({"avg_pool2d 3x3 stride 2 padding 1", {{1, 2, 5, 5}}, {}, [](In x) {
                         return avg_pool2d(x[0], 3, 2, 1);
                     }});
    cases.push_back({"batch_norm training", {{4, 3, 2, 2}, {3}, {3}}, {}, [](In x) {
                         Tensor<T> mean = Tensor<T>::zeros({3}), var = Tensor<T>::ones({3});
                         return batch_norm(x[0], x[1], x[2], mean, var, true);
                     }});
    cases.push_back({"batch_norm evaluation", {{2, 3, 2, 2}, {3}, {3}}, {}, [](In x) {
                         Tensor<T> mean({3}, {0.5, -0.2, 0.1}), var({3}, {1.5, 0.7, 2.0});
                         return batch_norm(x[0], x[1], x[2], mean, var, false);
                     }});
    cases.push_back({"batch_norm of rows", {{5, 4}, {4}, {4}}, {}, [](In x) {
                         Tensor<T> mean = Tensor<T>::zeros({4}), var = Tensor<T>::ones({4});
                         return batch_norm(x[0], x[1], x[2], mean, var, true);
                     }});
    // Softmax family and losses.
    cases.push_back({"softmax", {{3, 5}}, {}, [](In x) { return softmax(x[0]); }});
    cases.push_back({"softmax axis 0", {{3, 5}}, {}, [](In x) { return softmax(x[0], 0); }});
    cases.push_back(
        {"softmax axis 1 of 3", {{2, 3, 4}}, {}, [](In x) { return softmax(x[0], 1); }});
    cases.push_back({"log_softmax", {{3, 5}}, {}, [](In x) { return log_softmax(x[0]); }});
    cases.push_back(
        {"log_softmax axis 0", {{2, 3, 4}}, {}, [](In x) { return log_softmax(x[0], 0); }});
    cases.push_back({"cross_entropy", {{4, 5}, {4, 5}}, {positive, positive}, [](In x) {
                         return cross_entropy(x[0], x[1]);
                     }});
    cases.push_back({"cross_entropy of softmax", {{4, 5}, {4, 5}}, {any, positive}, [](In x) {
                         return cross_entropy(softmax(x[0]), x[1]);
                     }});
    cases.push_back({"softmax_cross_entropy targets", {{4, 5}, {4, 5}}, {any, positive}, [](In x) {
                         return softmax_cross_entropy(x[0], x[1]);
                     }});
    cases.push_back({"softmax_cross_entropy labels", {{4, 5}}, {}, [](In x) {
                         return softmax_cross_entropy(x[0], labels_for_four_rows);
                     }});
    cases.push_back({"nll_loss of log_softmax", {{4, 5}}, {}, [](In x) {
                         return nll_loss(log_softmax(x[0]), labels_for_four_rows);
                     }});
    cases.push_back({"mse_loss", {{3, 4}, {3, 4}}, {}, [](In x) { return mse_loss(x[0], x[1]); }});
    // A small MLP: every op of a training step in one graph.
    cases.push_back({"mlp", {{4, 6}, {5, 6}, {5}, {3, 5}, {3}}, {}, [](In x) {
                         return softmax_cross_entropy(
                             linear(tanh(linear(x[0], x[1], x[2])), x[3], x[4]),
                             Labels{0, 2, 1, 2});
                     }});
    return cases;
}

template <class T>
GradcheckResult check_case(const OpCase<T>& op, unsigned seed, const GradcheckOptions& options) {
    std::mt19937 rng(seed);
    std::vector<Tensor<T>> inputs;
    for (std::size_t i = 0; i < op.input_shapes.size(); ++i) {
        const Domain domain = i < op.domains.size() ? op.domains[i] : Domain::any;
        inputs.push_back(testing::random_tensor<T>(op.input_shapes[i], rng, domain));
    }
    return gradcheck(op.f, inputs, options);
}

std::string describe(const OpCase<double>& op) {
    std::string text = op.name + " on";
    for (const Shape& s : op.input_shapes) {
        text += " (";
        for (std::size_t k = 0; k < s.size(); ++k) text += (k ? ", " : "") + std::to_string(s[k]);
        text += ")";
    }
    return text;
}

TEST(OpGradients, MatchFiniteDifferencesInDouble) {
    for (const auto& op : op_cases<double>()) {
        for (unsigned seed : {1u, 2u, 3u}) {
            const GradcheckResult result = check_case(op, seed, GradcheckOptions{});
            EXPECT_TRUE(result.passed) << describe(op) << ", seed " << seed << "\n" << result;
            EXPECT_GT(result.elements_checked, 0u);
        }
    }
}

template <class T>
GradcheckResult check_second_order(const OpCase<T>& op, unsigned seed,
                                   const GradcheckOptions& options) {
    std::mt19937 rng(seed);
    std::vector<Tensor<T>> inputs;
    for (std::size_t i = 0; i < op.input_shapes.size(); ++i) {
        const Domain domain = i < op.domains.size() ? op.domains[i] : Domain::any;
        inputs.push_back(testing::random_tensor<T>(op.input_shapes[i], rng, domain));
    }
    return gradgradcheck(op.f, inputs, options);
}

TEST(OpGradients, SecondDerivativesMatchFiniteDifferences) {
    for (const auto& op : op_cases<double>()) {
        for (unsigned seed : {1u, 2u}) {
            const GradcheckResult result = check_second_order(op, seed, GradcheckOptions{});
            EXPECT_TRUE(result.passed) << describe(op) << ", seed " << seed << "\n" << result;
        }
    }
}

TEST(OpGradients, MatchFiniteDifferencesInFloat) {
    for (const auto& op : op_cases<float>()) {
        const GradcheckResult result = check_case(op, 7, GradcheckOptions::for_float());
        EXPECT_TRUE(result.passed) << op.name << "\n" << result;
    }
}

TEST(OpGradients, PartialRequiresGradOnlyFillsThoseInputs) {
    std::mt19937 rng(5);
    Tensor<double> a = testing::random_tensor<double>({3, 4}, rng);
    Tensor<double> b = testing::random_tensor<double>({4, 2}, rng, Domain::any, false);
    const GradcheckResult result =
        gradcheck([](const std::vector<Tensor<double>>& x) { return matmul(x[0], x[1]); }, {a, b});
    EXPECT_TRUE(result.passed) << result;
    EXPECT_EQ(result.elements_checked, 12u);
}

} // namespace
} // namespace tapegrad
