// Convolution, pooling and batch normalisation beyond their gradient checks: float (oneDNN)
// agrees with double (im2col and GEMM), ties in max pooling, running statistics, errors.

#include "error_message.hpp"
#include "random_tensors.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using F = Tensor<float>;
using ::testing::HasSubstr;
using testing::message_of;

double max_difference(const F& a, const D& b) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(double(a.data()[i]) - b.data()[i]));
    return worst;
}

TEST(Convolution, FloatOnOneDnnAgreesWithDoubleOnIm2col) {
    std::mt19937 rng(11);
    struct Case {
        Shape x, w;
        Conv2dOptions options;
    };
    const std::vector<Case> cases{{{8, 3, 12, 11}, {16, 3, 3, 3}, {1, 1}},
                                  {{4, 16, 9, 9}, {8, 16, 5, 5}, {2, 2}},
                                  {{2, 4, 10, 10}, {6, 4, 3, 3}, {1, 2, 2}},
                                  {{3, 1, 28, 28}, {32, 1, 3, 3}, {1, 1}}};
    for (const Case& c : cases) {
        const D x = testing::random_tensor<double>(c.x, rng),
                w = testing::random_tensor<double>(c.w, rng) * 0.2;
        const D b = testing::random_tensor<double>({c.w[0]}, rng);
        const D y = conv2d(x, w, b, c.options);
        const F yf = conv2d(x.to<float>(), w.to<float>(), b.to<float>(), c.options);
        EXPECT_EQ(yf.shape(), y.shape());
        EXPECT_LT(max_difference(yf, y), 1e-4);
        const D g = testing::random_tensor<double>(y.shape(), rng);
        EXPECT_LT(max_difference(conv2d_input_grad(g.to<float>(), w.to<float>(), c.x, c.options),
                                 conv2d_input_grad(g, w, c.x, c.options)),
                  1e-4);
        EXPECT_LT(max_difference(conv2d_weight_grad(x.to<float>(), g.to<float>(), c.w, c.options),
                                 conv2d_weight_grad(x, g, c.w, c.options)),
                  1e-3);
    }
}

TEST(Convolution, ShapesFollowPyTorch) {
    EXPECT_EQ(conv2d(F::ones({2, 3, 28, 28}), F::ones({8, 3, 5, 5})).shape(),
              (Shape{2, 8, 24, 24}));
    EXPECT_EQ(conv2d(F::ones({1, 1, 7, 7}), F::ones({1, 1, 3, 3}), Conv2dOptions{2, 1}).shape(),
              (Shape{1, 1, 4, 4}));
    EXPECT_EQ(conv2d(F::ones({1, 1, 7, 7}), F::ones({1, 1, 3, 3}), Conv2dOptions{1, 0, 3}).shape(),
              (Shape{1, 1, 1, 1}));
    // Ones everywhere: each output is the number of input pixels its window covers.
    const F y = conv2d(F::ones({1, 1, 3, 3}), F::ones({1, 1, 3, 3}), Conv2dOptions{1, 1});
    EXPECT_EQ(y.to_vector(), (std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

TEST(Convolution, BadShapesAndOptionsNameTheOpAndShapes) {
    EXPECT_EQ(message_of<ShapeError>([] {
                  conv2d(F::ones({1, 3, 8, 8}), F::ones({4, 2, 3, 3}));
              }),
              "conv2d: input (1, 3, 8, 8) and weight (4, 2, 3, 3) do not fit (N, C, H, W) and (O, "
              "C, kH, kW)");
    EXPECT_THAT(
        message_of<ShapeError>([] {
            conv2d(F::ones({1, 1, 4, 4}), F::ones({1, 1, 5, 5}));
        }),
        HasSubstr(
            "conv2d: a kernel of 5x5 with stride (1, 1), padding (0, 0), dilation (1, 1) is larger "
            "than the padded input (1, 1, 4, 4)"));
    EXPECT_THAT(message_of<ValueError>([] {
                    conv2d(F::ones({1, 1, 4, 4}), F::ones({1, 1, 3, 3}), Conv2dOptions{0});
                }),
                HasSubstr("conv2d: stride and dilation must be at least 1"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    conv2d(F::ones({1, 1, 4, 4}), F::ones({2, 1, 3, 3}), F::ones({3}));
                }),
                HasSubstr("conv2d: bias (3,) does not fit weight (2, 1, 3, 3)"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    conv2d(F::ones({4, 4}), F::ones({1, 1, 3, 3}));
                }),
                HasSubstr("input (4, 4)"));
}

TEST(Convolution, AdjointsCheckTheGradientsShape) {
    EXPECT_EQ(message_of<ShapeError>([] {
                  conv2d_input_grad(F::ones({1, 1, 3, 3}), F::ones({1, 1, 3, 3}), {1, 1, 4, 4});
              }),
              "conv2d_input_grad: a gradient of shape (1, 1, 3, 3) for an output of shape (1, 1, "
              "2, 2)");
    EXPECT_EQ(message_of<ShapeError>([] {
                  avg_pool2d_adjoint(F::ones({1, 1, 3, 3}), {1, 1, 4, 4}, 2);
              }),
              "avg_pool2d_adjoint: a gradient of shape (1, 1, 3, 3) for pooled shape (1, 1, 2, 2)");
}

TEST(Pooling, MaxSendsTheGradientToTheFirstMaximumOfATie) {
    D x({1, 1, 2, 4}, {1, 3, 3, 2, 3, 0, 2, 2}, true);
    sum(max_pool2d(x, 2) * D({1, 1, 1, 2}, {10, 20})).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 10, 20, 0, 0, 0, 0, 0}));
}

TEST(Pooling, ShapesAndErrors) {
    EXPECT_EQ(max_pool2d(F::ones({2, 3, 7, 7}), 2).shape(), (Shape{2, 3, 3, 3}));
    EXPECT_EQ(avg_pool2d(F::ones({2, 3, 7, 7}), 3, 2, 1).shape(), (Shape{2, 3, 4, 4}));
    // Padding counts as zeros in the mean, as in PyTorch's default.
    EXPECT_EQ(avg_pool2d(F::ones({1, 1, 2, 2}), 2, 2, 1).to_vector(),
              (std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f}));
    EXPECT_THAT(
        message_of<ShapeError>([] {
            max_pool2d(F::ones({1, 1, 2, 2}), 3);
        }),
        HasSubstr("max_pool2d: a kernel of 3x3 is larger than the padded input (1, 1, 2, 2)"));
    EXPECT_THAT(message_of<ValueError>([] {
                    avg_pool2d(F::ones({1, 1, 4, 4}), 2, 2, 2);
                }),
                HasSubstr("more than half the kernel"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    avg_pool2d(F::ones({4, 4}), 2);
                }),
                HasSubstr("(N, C, H, W)"));
    EXPECT_EQ(message_of<ValueError>([] {
                  max_pool2d(F::ones({1, 1, 4, 4}), Size2d{0, 2});
              }),
              "max_pool2d: kernel 0x2 and stride 0x2 must be at least 1");
    // Padding alone would fit the kernel, but no window would hold an element.
    EXPECT_THAT(message_of<ShapeError>([] {
                    max_pool2d(F::ones({1, 1, 0, 3}), 2, 1, 1);
                }),
                HasSubstr("max_pool2d: images of zero height or width, shape (1, 1, 0, 3)"));
}

TEST(BatchNorm, TrainingNormalisesAndMovesTheRunningStatistics) {
    std::mt19937 rng(5);
    const D x = testing::random_tensor<double>({6, 2, 3, 3}, rng) * 3.0 + 1.0;
    D running_mean = D::zeros({2}), running_var = D::ones({2});
    const D y = batch_norm(x, D::ones({2}), D::zeros({2}), running_mean, running_var, true, 0.1);
    // Each channel of y has mean 0 and (biased) variance 1, up to eps.
    for (double m : mean(y, {0, 2, 3}).to_vector()) EXPECT_NEAR(m, 0.0, 1e-12);
    const D channel_var = sum(y * y, {0, 2, 3}) / 54.0;
    for (double v : channel_var.to_vector()) EXPECT_NEAR(v, 1.0, 1e-4);
    // running = 0.9 running + 0.1 batch statistic (unbiased variance).
    const D batch_mean = sum(x, {0, 2, 3}) / 54.0;
    const D centered = x - reshape(batch_mean, {1, 2, 1, 1});
    const D unbiased = sum(centered * centered, {0, 2, 3}) / 53.0;
    for (std::size_t c = 0; c < 2; ++c) {
        EXPECT_NEAR(running_mean.data()[c], 0.1 * batch_mean.data()[c], 1e-12);
        EXPECT_NEAR(running_var.data()[c], 0.9 + 0.1 * unbiased.data()[c], 1e-12);
    }
    EXPECT_FALSE(running_mean.requires_grad());
    EXPECT_THAT(message_of<ValueError>([] {
                    D m = D::zeros({2}), v = D::ones({2});
                    batch_norm(D::ones({1, 2}), D::ones({2}), D::zeros({2}), m, v, true);
                }),
                HasSubstr("batch_norm: training needs more than one value per channel"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    D m = D::zeros({3}), v = D::ones({3});
                    batch_norm(D::ones({2, 2, 2, 2}), D::ones({2}), D::zeros({2}), m, v, true);
                }),
                HasSubstr("running mean (3,)"));
}

} // namespace
} // namespace tapegrad
