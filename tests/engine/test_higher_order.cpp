// tapegrad::grad and backward with create_graph: gradients as tensors, derivatives of
// derivatives, and no graph left alive afterwards.

#include "error_message.hpp"
#include "random_tensors.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;
using testing::message_of;

GradOptions creating_graph() {
    GradOptions options;
    options.create_graph = true;
    return options;
}

TEST(Grad, ReturnsGradientsWithoutTouchingGrad) {
    D x({3}, {0.5, -1.0, 2.0}, true);
    D w({3}, {1.0, 2.0, 3.0}, true);
    const std::vector<D> g = grad(sum(x * w), {x});
    EXPECT_EQ(g[0].to_vector(), w.to_vector());
    EXPECT_FALSE(x.has_grad());
    EXPECT_FALSE(w.has_grad());
}

TEST(Grad, SecondDerivativeOfKnownFunctions) {
    // f = sum(x^3 + sin-free tanh(x) x): f'' = 6x - 2 tanh (1 - tanh^2) x + 2 (1 - tanh^2)
    D x({3}, {0.5, -0.3, 1.2}, true);
    const D first = grad(sum(pow(x, 3.0) + tanh(x) * x), {x}, creating_graph())[0];
    EXPECT_TRUE(first.requires_grad());
    const D second = grad(sum(first), {x})[0];
    for (std::size_t i = 0; i < 3; ++i) {
        const double v = x.data()[i], t = std::tanh(v);
        EXPECT_NEAR(second.data()[i], 6 * v - 2 * t * (1 - t * t) * v + 2 * (1 - t * t), 1e-12);
    }
    // Third order: f''' of x^3 is 6.
    D y({1}, {0.7}, true);
    const D d1 = grad(sum(pow(y, 3.0)), {y}, creating_graph())[0];
    const D d2 = grad(sum(d1), {y}, creating_graph())[0];
    EXPECT_NEAR(grad(sum(d2), {y})[0].item(), 6.0, 1e-12);
}

TEST(Grad, WithRespectToIntermediatesAndWithSeeds) {
    D x({2}, {1.0, 2.0}, true);
    D h = x * x;
    D y = h * 3.0;
    const std::vector<D> g = grad({y}, {h, x}, {D({2}, {1.0, -1.0})});
    EXPECT_EQ(g[0].to_vector(), (std::vector<double>{3.0, -3.0}));
    EXPECT_EQ(g[1].to_vector(), (std::vector<double>{6.0, -12.0}));
}

TEST(Grad, UnusedInputsAreAnErrorUnlessAllowed) {
    D x({2}, {1.0, 2.0}, true), unused({3}, {1.0, 1.0, 1.0}, true);
    EXPECT_THAT(message_of<GraphError>([&] {
                    grad(sum(x * x), {x, unused});
                }),
                HasSubstr("grad: input 1 (shape (3,)) does not influence the outputs"));
    GradOptions allow;
    allow.allow_unused = true;
    const std::vector<D> g = grad(sum(x * x), {x, unused}, allow);
    EXPECT_EQ(g[1].to_vector(), std::vector<double>(3, 0.0));
    EXPECT_THAT(message_of<GraphError>([&] { grad(sum(x * x), {D::ones({2})}); }),
                HasSubstr("grad: input 0 (shape (2,)) does not require a gradient"));
}

TEST(Grad, RunsOnlyTheClosuresOnAPathToTheInputs) {
    D x({2}, {1.0, 2.0}, true), w({2}, {3.0, 4.0}, true);
    D other = sum(exp(w)); // reaches the loss, not x
    D loss = sum(x * 2.0) + other;
    grad(loss, {x});
    // The closures of exp and its sum never ran, so they were not released either.
    other.backward();
    EXPECT_NEAR(w.grad().data()[0], std::exp(3.0), 1e-12);
    EXPECT_THROW(loss.backward(), GraphError); // the closures that ran were
}

TEST(CreateGraph, BackwardStoresDifferentiableGradientsInLeaves) {
    D w({2}, {0.5, -1.5}, true);
    BackwardOptions create;
    create.create_graph = true;
    sum(w * w * w).backward(create); // w.grad() = 3 w^2, with a history
    EXPECT_TRUE(w.grad().requires_grad());
    const D penalty = sum(w.grad() * w.grad()); // d/dw = 2 (3w^2)(6w) = 36 w^3
    w.zero_grad();
    penalty.backward();
    EXPECT_NEAR(w.grad().data()[0], 36 * 0.125, 1e-12);
    EXPECT_NEAR(w.grad().data()[1], 36 * -3.375, 1e-12);
}

TEST(CreateGraph, LeavesNoNodeAliveOnceTheTensorsAreDropped) {
    const std::size_t before = live_node_count();
    {
        D w({3}, {0.5, -0.3, 1.2}, true);
        D x({3}, {1.0, 2.0, 3.0});
        BackwardOptions create;
        create.create_graph = true;
        // The gradient's history reaches back to w, whose handle keeps the gradient: a
        // cycle unless the leaf's node leaves the gradient to the handles.
        sum(tanh(w * x) * w).backward(create);
        const D penalty = sum(w.grad() * w.grad());
        penalty.backward();
        const std::vector<D> hvp = grad({grad(sum(exp(w)), {w}, creating_graph())[0]}, {w}, {x});
        EXPECT_GT(live_node_count(), before);
    }
    EXPECT_EQ(live_node_count(), before);
}

} // namespace
} // namespace tapegrad
