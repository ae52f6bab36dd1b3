// What users of LibTorch expect of a tensor: printing, element access, factories, type
// conversion, integer lists of any type, and backward on a const handle.

#include "error_message.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;
using testing::message_of;

TEST(Printing, IsNumPyLike) {
    EXPECT_EQ(to_string(D({2, 2}, {1, 2, 3, 4.5})),
              "tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]])");
    EXPECT_EQ(to_string(D::scalar(-0.25)), "tensor(-0.2500)");
    EXPECT_EQ(to_string(D({2}, {1e-6, 2.0}, true)),
              "tensor([1.0000e-06, 2.0000e+00], requires_grad)");
    const D x({2}, {1.0, 2.0}, true);
    EXPECT_EQ(fmt::format("{}", x * 2.0), "tensor([2.0000, 4.0000], grad_fn=mul_scalar)");
    std::ostringstream out;
    out << Tensor<float>({3}, {1, -2, 3});
    EXPECT_EQ(out.str(), "tensor([ 1.0000, -2.0000,  3.0000])");
}

TEST(Printing, SummarisesLargeTensors) {
    const std::string text = to_string(arange<double>(0, 2000));
    EXPECT_EQ(text,
              "tensor([   0.0000,    1.0000,    2.0000, ..., 1997.0000, 1998.0000, 1999.0000])");
    const std::string matrix = to_string(Tensor<double>::zeros({100, 100}));
    EXPECT_THAT(matrix, HasSubstr("...,"));
    EXPECT_LT(matrix.size(), 800u);
}

TEST(Gradients, SetGradReplacesTheAccumulatorAndBackwardAddsToIt) {
    Tensor<double> x({2}, {1.0, 2.0}, true);
    x.set_grad(Tensor<double>({2}, {10.0, 20.0}));
    EXPECT_TRUE(x.has_grad());
    sum(x * 3.0).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{13.0, 23.0}));
    EXPECT_EQ(message_of<ShapeError>([&] { x.set_grad(Tensor<double>::zeros({3})); }),
              "set_grad: a gradient of shape (3,) for a tensor of shape (2,)");
    Tensor<double> constant({1}, {1.0});
    EXPECT_THROW(constant.set_grad(Tensor<double>::zeros({1})), GraphError);
}

TEST(Xtensor, PlainXarraysAndExpressionsBecomeTensorsAndBack) {
    const xt::xarray<double> plain{{1.0, 2.0}, {3.0, 4.0}};
    const Tensor<double> t = from_xtensor(plain, true);
    EXPECT_EQ(t.shape(), (Shape{2, 2}));
    EXPECT_TRUE(t.requires_grad());
    EXPECT_EQ(t.to_vector(), (std::vector<double>{1.0, 2.0, 3.0, 4.0}));
    const Tensor<float> f = from_xtensor<float>(xt::ones<double>({2, 3}));
    EXPECT_EQ(f.to_vector(), std::vector<float>(6, 1.0f));
    const xt::xarray<double> back = as_xtensor(t) * 2.0;
    EXPECT_EQ(back, (xt::xarray<double>{{2.0, 4.0}, {6.0, 8.0}}));
}

TEST(ElementAccess, AtReadsOneElementAndChecksTheIndex) {
    const D x({2, 3}, {0, 1, 2, 3, 4, 5});
    EXPECT_EQ(x.at({1, 2}), 5.0);
    EXPECT_EQ(message_of<IndexError>([&] {
                  x.at({2, 0});
              }),
              "at: index (2, 0) is outside a tensor of shape (2, 3)");
    EXPECT_THROW(x.at({1}), IndexError);
}

TEST(Factories, AreSeededAndShaped) {
    Generator a(7), b(7);
    EXPECT_EQ(randn<double>({3, 2}, a).to_vector(), randn<double>({3, 2}, b).to_vector());
    manual_seed(3);
    const D first = rand<double>({100});
    manual_seed(3);
    EXPECT_EQ(rand<double>({100}).to_vector(), first.to_vector());
    for (double v : first.to_vector()) EXPECT_TRUE(v >= 0 && v < 1);
    for (float v : uniform<float>({50}, -2.0f, -1.0f).to_vector()) EXPECT_TRUE(v >= -2 && v < -1);
    EXPECT_TRUE(randn<float>({2}, default_generator(), true).requires_grad());
    EXPECT_EQ(arange<double>(1, 2, 0.25).to_vector(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
    EXPECT_EQ(arange<double>(3, 0, -1).to_vector(), (std::vector<double>{3, 2, 1}));
    EXPECT_EQ(linspace<double>(0, 1, 5).to_vector(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
    EXPECT_EQ(eye<double>(2, 3).to_vector(), (std::vector<double>{1, 0, 0, 0, 1, 0}));
    EXPECT_EQ(zeros_like(D::ones({2, 1})).shape(), (Shape{2, 1}));
    EXPECT_EQ(ones_like(D::zeros({2})).to_vector(), (std::vector<double>{1, 1}));
    EXPECT_THROW(arange<double>(0, 1, 0), ValueError);
    EXPECT_THROW(uniform<double>({2}, 1.0, 1.0), ValueError);
}

TEST(Conversion, RecordedSoTheGradientFlowsBackInTheSourceType) {
    D x({3}, {0.5, -0.3, 1.2}, true);
    const Tensor<float> y = tanh((x * 2.0).to<float>());
    EXPECT_TRUE(y.requires_grad());
    sum(y * y).backward();
    for (std::size_t i = 0; i < 3; ++i) {
        const double t = std::tanh(2 * x.data()[i]);
        EXPECT_NEAR(x.grad().data()[i], 4 * t * (1 - t * t), 1e-6);
    }
    Tensor<float> f({2}, {1.5f, 2.5f}, true);
    sum(f.to<double>() * f.to<double>()).backward();
    EXPECT_EQ(f.grad().to_vector(), (std::vector<float>{3.0f, 5.0f}));
    EXPECT_THAT(message_of<GraphError>([&] { grad(sum(f.to<double>()).to<float>(), {f}); }),
                HasSubstr("converts between float and double"));
}

TEST(IntegerLists, TakeAnyIntegerVectorOrBracedList) {
    const D x = D::ones({2, 3, 4});
    const std::vector<std::int64_t> axes64{0, -1};
    const std::vector<std::size_t> axes_unsigned{1};
    EXPECT_EQ(sum(x, axes64).shape(), (Shape{3}));
    EXPECT_EQ(sum(x, axes_unsigned).shape(), (Shape{2, 4}));
    const std::vector<int> labels{0, 2};
    EXPECT_NO_THROW(softmax_cross_entropy(D::ones({2, 3}), labels));
    const std::vector<int> shape{4, 6};
    EXPECT_EQ(reshape(x, shape).shape(), (Shape{4, 6}));
    EXPECT_EQ(D::zeros(std::vector<int>{2, 2}).size(), 4u);
    EXPECT_THAT(message_of<ValueError>([] { D::zeros(std::vector<int>{2, -2}); }), HasSubstr("-2"));
}

TEST(ConstHandles, BackwardIsCallableOnAConstTensor) {
    const D x({2}, {1.0, 2.0}, true);
    const D loss = sum(x * x);
    loss.backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2.0, 4.0}));
}

TEST(Masks, ComparisonsGiveMasksAndArgmaxGivesPositions) {
    const D x({2, 3}, {1, 5, 2, 7, 0, 7});
    EXPECT_EQ((x > 1.5).to_vector(), (std::vector<double>{0, 1, 1, 1, 0, 1}));
    EXPECT_EQ((x == x).to_vector(), std::vector<double>(6, 1.0));
    EXPECT_FALSE((x > 0.0).requires_grad());
    const Indices top = argmax(x, 1);
    EXPECT_EQ(top.shape, (Shape{2}));
    EXPECT_EQ(top.values, (std::vector<std::int64_t>{1, 0})); // the first of a tie
    EXPECT_EQ(argmin(x, 0).values, (std::vector<std::int64_t>{0, 1, 0}));
    EXPECT_EQ(where(x > 4.0, x, 0.0).to_vector(), (std::vector<double>{0, 5, 0, 7, 0, 7}));
}

} // namespace
} // namespace tapegrad
