// Graph mechanics: accumulation of adjoints, leaves' gradients across calls, recording on
// and off, retain_graph, deep graphs and the release of buffers.

#include "random_tensors.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace tapegrad {
namespace {

using D = Tensor<double>;

D leaf(std::vector<double> values) {
    const std::size_t n = values.size();
    return D({n}, std::move(values), true);
}

TEST(Graph, ValueUsedTwiceGetsTheSumOfItsAdjoints) {
    D x = leaf({1.5, -2.0});
    sum(x * x).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3.0, -4.0}));
}

TEST(Graph, DiamondSumsBothPaths) {
    // a = 2x; d = (a + 1)(3a) = 6x(2x + 1)  =>  dd/dx = 24x + 6
    D x = leaf({0.5, -1.0, 2.0});
    D a = x * 2.0;
    D d = sum((a + 1.0) * (a * 3.0));
    d.backward();
    const std::vector<double> g = x.grad().to_vector();
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(g[i], 24 * x.data()[i] + 6);
}

TEST(Graph, SharedAdjointsAreCopiedBeforeTheyAreAddedTo) {
    // a + b hands its adjoint to both a and b without a copy; a then receives a second
    // contribution, which must not leak into b (or into the caller's seed).
    D x = leaf({0.5, -1.5});
    D a = x * 2.0, b = x * 3.0;
    D root = (a + b) + a * a; // d/dx = 2 + 3 + 2 * a * 2 = 5 + 8x
    const D seed({2}, {1.0, 1.0});
    root.backward(seed);
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5 + 8 * 0.5, 5 - 8 * 1.5}));
    EXPECT_EQ(seed.to_vector(), (std::vector<double>{1.0, 1.0}));

    D y = leaf({1.0, 2.0});
    D c = y * 2.0;
    D top = (c + 1.0) + c; // the seed itself is handed down twice
    const D ones({2}, {1.0, 1.0});
    top.backward(ones);
    EXPECT_EQ(y.grad().to_vector(), (std::vector<double>{4.0, 4.0}));
    EXPECT_EQ(ones.to_vector(), (std::vector<double>{1.0, 1.0}));
}

TEST(Graph, GradientsAccumulateUntilZeroGrad) {
    D x = leaf({1.0, 2.0});
    sum(x * 3.0).backward();
    sum(x * 3.0).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{6.0, 6.0}));
    x.zero_grad();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0.0, 0.0}));
    sum(x * 5.0).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5.0, 5.0}));
}

TEST(Graph, GradHasTheLeafShapeAndIsZeroBeforeBackward) {
    D w = D::ones({2, 3}, true);
    EXPECT_FALSE(w.has_grad());
    EXPECT_EQ(w.grad().shape(), (Shape{2, 3}));
    EXPECT_EQ(w.grad().to_vector(), std::vector<double>(6, 0.0));
    D b = D::ones({3}, true);
    sum(w + b).backward(); // b is broadcast over 2 rows
    EXPECT_EQ(b.grad().shape(), (Shape{3}));
    EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{2.0, 2.0, 2.0}));
}

TEST(Graph, NoGradRecordsNothing) {
    D x = leaf({1.0});
    D y;
    {
        NoGrad guard;
        EXPECT_FALSE(grad_enabled());
        y = x * 2.0;
    }
    EXPECT_TRUE(grad_enabled());
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Graph, ConstantsRecordNothing) {
    const std::size_t before = live_node_count();
    D a = D::ones({4});
    D y = tanh(a * a + 1.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(live_node_count(), before);
}

TEST(Graph, AssigningOverTheLastHandleOfALeafWithAGradientFreesBoth) {
    // Assignment replaces a handle's node before its gradient record, which must still be
    // able to unregister itself from that node.
    const std::size_t before = live_node_count();
    D x = leaf({1.0, 2.0});
    sum(x * x).backward();
    ASSERT_TRUE(x.has_grad());
    x = leaf({3.0});
    EXPECT_EQ(live_node_count(), before + 1);
    sum(x * x).backward();
    EXPECT_DOUBLE_EQ(x.grad().item(), 6.0);
}

TEST(Graph, SecondBackwardThroughReleasedGraphThrows) {
    D x = leaf({1.0, 2.0});
    D y = sum(tanh(x));
    y.backward();
    EXPECT_THROW(y.backward(), GraphError);
}

TEST(Graph, RetainGraphAllowsASecondBackward) {
    D x = leaf({1.0, 2.0});
    D y = sum(tanh(x));
    y.backward(true);
    const std::vector<double> once = x.grad().to_vector();
    y.backward();
    const std::vector<double> twice = x.grad().to_vector();
    for (std::size_t i = 0; i < once.size(); ++i) EXPECT_DOUBLE_EQ(twice[i], 2 * once[i]);
    EXPECT_THROW(y.backward(), GraphError);
}

TEST(Graph, NonScalarBackwardTakesASeed) {
    D x = leaf({1.0, 2.0, 3.0});
    D y = x * x;
    y.backward(D({3}, {1.0, 0.0, -1.0}));
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2.0, 0.0, -6.0}));
}

TEST(Graph, DetachCutsTheGraph) {
    D x = leaf({3.0});
    D y = x * x.detach(); // d/dx = x, not 2x
    y.backward();
    EXPECT_DOUBLE_EQ(x.grad().item(), 3.0);
    EXPECT_FALSE(x.detach().requires_grad());
}

TEST(Graph, MillionOpChainBackpropagatesAndIsFreed) {
    const std::size_t before = live_node_count();
    {
        D x = leaf({1.0});
        D y = x;
        for (int i = 0; i < 1000000; ++i) y = y + 1e-6;
        EXPECT_EQ(live_node_count(), before + 1000001);
        y.backward();
        EXPECT_DOUBLE_EQ(x.grad().item(), 1.0);
        EXPECT_NEAR(y.item(), 2.0, 1e-9);
    } // dropping y destroys the chain iteratively
    EXPECT_EQ(live_node_count(), before);
}

TEST(Graph, LongChainsOfSelfProductsAreFreedWithoutRecursion) {
    // Each node holds its input twice (y + y), which must not defeat the iterative teardown.
    const std::size_t before = live_node_count();
    {
        D y = leaf({1.0});
        for (int i = 0; i < 1000000; ++i) y = (y + y) * 0.5;
    }
    EXPECT_EQ(live_node_count(), before);
}

TEST(Graph, LinearUnderNoGradRecordsNothingEvenWithABias) {
    D x = D::ones({2, 3}), w = D::ones({4, 3}, true), b = D::ones({4}, true);
    NoGrad no_grad;
    EXPECT_FALSE(linear(x, w, b).requires_grad());
    EXPECT_FALSE(linear(x, D::ones({4, 3}), b).requires_grad());
}

TEST(Graph, AFailedBackwardLeavesNoPartialAdjointsBehind) {
    // The anomaly check throws half-way through the sweep; a retained graph must then
    // backpropagate exactly as if the failed attempt had not happened, and the caller's
    // seed must stay as it was.
    D x({2}, {4.0, 0.0}, true);
    D s = sqrt(x * 1.0);
    const D seed({2}, {1.0, 0.0});
    {
        DetectAnomaly detect;
        EXPECT_THROW(s.backward(seed, true), NonFiniteError); // d sqrt/dx is inf at 0
    }
    x.zero_grad();
    s.backward(seed, true);
    EXPECT_EQ(x.grad().data()[0], 0.25); // 1 / (2 sqrt(4)), once
    EXPECT_EQ(seed.to_vector(), (std::vector<double>{1.0, 0.0}));
}

TEST(Graph, TensorsWithAZeroExtentReduceToZeros) {
    D empty = D::zeros({0, 3}, true);
    EXPECT_EQ(sum(empty, {0}).to_vector(), (std::vector<double>{0.0, 0.0, 0.0}));
    EXPECT_EQ(sum(empty).item(), 0.0);
    EXPECT_EQ(sum(empty, {1}, true).shape(), (Shape{0, 1}));
    EXPECT_TRUE(std::isnan(mean(empty).item())); // the mean of nothing
    // Backward through a broadcast and a softmax of an empty batch.
    D row = D::ones({3}, true);
    sum(softmax(empty + row)).backward();
    EXPECT_EQ(row.grad().to_vector(), (std::vector<double>{0.0, 0.0, 0.0}));
    EXPECT_EQ(empty.grad().shape(), (Shape{0, 3}));
}

TEST(Graph, NodesDieWithTheirGraph) {
    const std::size_t before = live_node_count();
    D w = D::ones({3, 2}, true);
    {
        D loss = sum(relu(matmul(D::ones({4, 3}), w)));
        EXPECT_GT(live_node_count(), before + 1);
        loss.backward();
    }
    EXPECT_EQ(live_node_count(), before + 1); // w's leaf
}

TEST(Graph, BackwardReleasesSavedValuesAndInteriorAdjoints) {
    D x = leaf({0.5, -0.5});
    D hidden = tanh(x); // tanh saves its output
    std::weak_ptr<const Array<double>> saved_output = hidden.value_ptr();
    D loss = sum(hidden * 2.0);
    hidden = D(); // only the graph holds tanh's output now
    EXPECT_FALSE(saved_output.expired());
    loss.backward();
    EXPECT_TRUE(saved_output.expired()); // released by the sweep, while loss still lives
}

} // namespace
} // namespace tapegrad
