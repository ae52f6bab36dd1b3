// Ops written by users with the public op API (tapegrad/function.hpp): closures in tensor
// ops get first and second derivatives, several inputs and outputs, saved values of every
// kind, and the errors of a closure that cannot be differentiated again.

#include "error_message.hpp"
#include "random_tensors.hpp"
#include "tapegrad/function.hpp"
#include "tapegrad/grad.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <xtensor/xmath.hpp>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;
using testing::message_of;

// y = softplus(x) = log(1 + e^x)      dx = dy sigmoid(x)
template <class T> Tensor<T> softplus(const Tensor<T>& x) {
    return record("softplus", {x}, from_xtensor(xt::log1p(xt::exp(as_xtensor(x)))), saving(x),
                  [](TensorGradients<T>& d, const Tensor<T>& dY, const Tensor<T>& X) {
                      d.add(0, dY * sigmoid(X));
                  });
}

// y = sum_k x_k over any number of inputs      dx_k = dy
D sum_of(const std::vector<D>& terms) {
    Array<double> total = xt::zeros<double>(terms[0].shape());
    for (const D& term : terms) total += as_xtensor(term);
    return record("sum_of", terms, from_xtensor(std::move(total)),
                  [](TensorGradients<double>& d, const D& dY) {
                      for (std::size_t k = 0; k < d.input_count(); ++k)
                          if (d.wants(k)) d.add(k, dY);
                  });
}

// (s, c) = (sin x, cos x)      dx = ds cos x - dc sin x
std::vector<D> sin_cos(const D& x) {
    const D s = from_xtensor(xt::sin(as_xtensor(x))), c = from_xtensor(xt::cos(as_xtensor(x)));
    return record("sin_cos", std::vector<D>{x}, {s, c}, saving(s, c),
                  [](TensorGradients<double>& d, const OutputGradients<D>& dY, const D& S,
                     const D& C) { d.add(0, dY[0] * C - dY[1] * S); });
}

TEST(FunctionApi, AUserOpWrittenInTensorOpsHasFirstAndSecondDerivatives) {
    std::mt19937 rng(1);
    const D x = testing::random_tensor<double>({3, 4}, rng);
    const auto f = [](const std::vector<D>& in) { return softplus(in[0]); };
    EXPECT_TRUE(gradcheck(f, {x}).passed);
    EXPECT_TRUE(gradgradcheck(f, {x}).passed);
    const Tensor<float> xf({2}, {0.5f, -1.0f}, true);
    sum(softplus(xf)).backward();
    EXPECT_NEAR(xf.grad().data()[0], 1 / (1 + std::exp(-0.5f)), 1e-6);
}

TEST(FunctionApi, OpsWithSeveralOutputsGetEachOutputsGradient) {
    std::mt19937 rng(2);
    const D x = testing::random_tensor<double>({5}, rng);
    const auto f = [](const std::vector<D>& in) {
        const std::vector<D> sc = sin_cos(in[0]);
        return sc[0] * 2.0 + sc[1] * sc[1];
    };
    EXPECT_TRUE(gradcheck(f, {x}).passed);
    EXPECT_TRUE(gradgradcheck(f, {x}).passed);
    // Only one output used: the other's gradient is zero.
    const auto only_cos = [](const std::vector<D>& in) { return sin_cos(in[0])[1]; };
    EXPECT_TRUE(gradcheck(only_cos, {x}).passed);
}

TEST(FunctionApi, OpsTakeAnyNumberOfInputsAndSkipThoseWithoutGradient) {
    std::mt19937 rng(3);
    std::vector<D> terms;
    for (int k = 0; k < 6; ++k)
        terms.push_back(testing::random_tensor<double>({2, 3}, rng, testing::Domain::any, k != 3));
    const std::size_t before = live_node_count();
    {
        const D y = sum_of(terms);
        EXPECT_EQ(live_node_count(), before + 1);
        sum(y * y).backward();
        for (int k = 0; k < 6; ++k) {
            if (k == 3) continue;
            EXPECT_EQ(terms[k].grad().to_vector(), (y * 2.0).to_vector()) << "input " << k;
        }
        EXPECT_FALSE(terms[3].requires_grad());
    }
    // Eight inputs through cat: more than a node keeps inside itself.
    std::vector<D> parts;
    for (int k = 0; k < 8; ++k) parts.push_back(testing::random_tensor<double>({1, 2}, rng));
    EXPECT_TRUE(gradcheck([](const std::vector<D>& in) { return tanh(cat(in, 0)); }, parts).passed);
}

TEST(FunctionApi, ABackwardOnArraysOnlyRefusesToCreateAGraph) {
    const D x({3}, {0.5, 1.0, 1.5}, true);
    const auto square = [](const D& in) {
        return record("square_on_arrays", {in}, from_xtensor(as_xtensor(in) * as_xtensor(in)),
                      saving(in),
                      [](ArrayGradients<double>& d, const Array<double>& dY,
                         const Array<double>& X) { d.add(0, 2.0 * X * dY); });
    };
    sum(square(x)).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1.0, 2.0, 3.0}));
    GradOptions create;
    create.create_graph = true;
    EXPECT_THAT(message_of<GraphError>([&] { grad(sum(square(x)), {x}, create); }),
                HasSubstr("'square_on_arrays'"));
}

TEST(FunctionApi, AGradientOfTheWrongShapeNamesTheOp) {
    const D x({3}, {0.5, 1.0, 1.5}, true);
    const D y = record("bad_shape", {x}, from_xtensor(as_xtensor(x) * 2.0),
                       [](TensorGradients<double>& d, const D&) { d.add(0, D::ones({4})); });
    EXPECT_THAT(
        message_of<ShapeError>([&] { sum(y).backward(); }),
        HasSubstr("backward of 'bad_shape': a gradient of shape (4,) for input 0 of shape (3,)"));
}

TEST(FunctionApi, SavedTensorsKeepTheirOwnHistory) {
    // y = x e^x, saving e = exp(x): neither the op's input nor its output, made by an op of
    // its own. Its history carries the second derivative through e.
    const D x({3}, {0.5, -1.0, 0.25}, true);
    const auto f = [](const std::vector<D>& in) {
        const D e = exp(in[0]);
        return record("x_exp_x", {in[0]}, from_xtensor(as_xtensor(in[0]) * as_xtensor(e)),
                      saving(in[0], e),
                      [](TensorGradients<double>& d, const D& dY, const D& X, const D& E) {
                          d.add(0, dY * E * (X + 1.0));
                      });
    };
    EXPECT_TRUE(gradcheck(f, {x}).passed);
    EXPECT_TRUE(gradgradcheck(f, {x}).passed);
}

} // namespace
} // namespace tapegrad
