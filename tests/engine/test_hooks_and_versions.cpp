// Hooks on gradients, retained gradients of intermediate tensors, and the version counters
// that catch a value written to after an op saved it.

#include "error_message.hpp"
#include "tapegrad/grad.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;
using testing::message_of;

D leaf(std::vector<double> values) {
    const std::size_t n = values.size();
    return D({n}, std::move(values), true);
}

TEST(Hooks, SeeTheGradientFlowingIntoATensorAndMayReplaceIt) {
    D x = leaf({1.0, -2.0});
    D h = x * 3.0;
    std::vector<double> seen;
    h.register_hook([&](const D& g) { seen = g.to_vector(); });
    HookHandle doubling = h.register_hook([](const D& g) { return g * 2.0; });
    sum(h * h).backward(); // d/dh = 2h = (6, -12), doubled, then * 3 into x
    EXPECT_EQ(seen, (std::vector<double>{6.0, -12.0}));
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{36.0, -72.0}));

    doubling.remove();
    doubling.remove(); // removing twice is harmless
    x.zero_grad();
    D h2 = x * 3.0;
    sum(h2 * h2).backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{18.0, -36.0}));
}

TEST(Hooks, OnALeafClipTheGradientBeforeItIsAccumulated) {
    D w = leaf({0.5, 4.0});
    w.register_hook([](const D& g) { return clamp(g, -1.0, 1.0); });
    sum(w * w).backward(); // 2w = (1, 8), clipped to (1, 1)
    EXPECT_EQ(w.grad().to_vector(), (std::vector<double>{1.0, 1.0}));
}

TEST(Hooks, AHookReturningTheWrongShapeIsAnError) {
    D x = leaf({1.0, 2.0});
    D h = x * 2.0;
    h.register_hook([](const D&) { return D::ones({3}); });
    EXPECT_THAT(message_of<ShapeError>([&] { sum(h).backward(); }),
                HasSubstr("a hook on the output of 'mul_scalar' returned a gradient of shape (3,) "
                          "for a tensor of shape (2,)"));
}

TEST(Hooks, PostAccumulateRunsOncePerBackwardWithTheCompleteGradient) {
    D w = leaf({1.0, 2.0});
    std::vector<std::vector<double>> calls;
    w.register_post_accumulate_grad_hook(
        [&](D& leaf_tensor) { calls.push_back(leaf_tensor.grad().to_vector()); });
    // w is used by three ops: the hook sees the sum of all three contributions, once.
    sum(w * w + w * 3.0 + exp(w * 0.0)).backward();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0], (std::vector<double>{5.0, 7.0}));
    sum(w).backward();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[1], (std::vector<double>{6.0, 8.0})); // accumulated
    EXPECT_THROW(D::ones({2}).register_post_accumulate_grad_hook([](D&) {}), GraphError);
    EXPECT_THROW((w * 2.0).register_post_accumulate_grad_hook([](D&) {}), GraphError);
}

TEST(Hooks, RetainGradKeepsTheGradientOfAnIntermediateTensor) {
    D x = leaf({1.0, 2.0});
    D h = x * x;
    EXPECT_THROW(h.grad(), GraphError);
    h.retain_grad();
    EXPECT_TRUE(h.retains_grad());
    sum(h * 3.0).backward();
    EXPECT_EQ(h.grad().to_vector(), (std::vector<double>{3.0, 3.0}));
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{6.0, 12.0}));
}

TEST(Versions, WritingASavedValueBeforeBackwardIsCaught) {
    D x = leaf({0.5, 1.0});
    D y = tanh(x); // saves its output
    D loss = sum(y * 2.0);
    y.mutable_data()[0] = 7.0;
    const std::string message = message_of<GraphError>([&] { loss.backward(); });
    EXPECT_THAT(message, HasSubstr("'tanh'"));
    EXPECT_THAT(
        message,
        HasSubstr("at version 0, but it has been written to since and is at version 1 now"));
}

TEST(Versions, AnOptimizerStepBetweenForwardAndBackwardIsCaught) {
    D w = leaf({0.5, -1.0});
    D x({2}, {2.0, 3.0});
    D loss = sum(w * x * w); // mul saves w
    optim::Sgd<double> sgd({w}, {0.1, 0, false, 0});
    sum(w * 2.0).backward(); // a gradient from another loss
    sgd.step();              // writes w
    EXPECT_THAT(message_of<GraphError>([&] { loss.backward(); }), HasSubstr("'mul'"));
}

TEST(Versions, ValuesNoOpSavedMayBeWrittenFreely) {
    D x = leaf({0.5, 1.0});
    D a({2}, {1.0, 1.0});
    D loss = sum(x + a); // add saves nothing
    a.mutable_data()[0] = 5.0;
    loss.backward();
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1.0, 1.0}));
    EXPECT_EQ(a.version(), 1u);
}

TEST(InPlace, UnderNoGradWritesTheSharedValue) {
    D w = leaf({1.0, 2.0});
    D alias = w;
    {
        NoGrad no_grad;
        w -= D({2}, {0.5, 0.5});
        w *= 2.0;
    }
    EXPECT_EQ(alias.to_vector(), (std::vector<double>{1.0, 3.0}));
    EXPECT_EQ(w.version(), 2u);
    EXPECT_TRUE(w.requires_grad());
}

TEST(InPlace, WhileRecordingIsDifferentiated) {
    D x = leaf({1.0, -2.0});
    D h = x * 3.0;
    h += x * x; // h = 3x + x^2
    h /= 2.0;
    sum(h).backward(); // (3 + 2x) / 2
    EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2.5, -0.5}));
}

TEST(InPlace, OnALeafThatRequiresAGradientWhileRecordingIsAnError) {
    D w = leaf({1.0, 2.0});
    EXPECT_THAT(
        message_of<GraphError>([&] { w += D::ones({2}); }),
        HasSubstr("add_: a leaf that requires a gradient (shape (2,)) cannot be written in place"));
    EXPECT_THAT(message_of<ShapeError>([&] {
                    D a = D::ones({2});
                    a += D::ones({3, 2});
                }),
                HasSubstr("add_: the result of shapes (2,) and (3, 2) does not fit"));
}

TEST(InPlace, AWriteAfterAnOpSavedTheOldValueIsCaught) {
    D x = leaf({1.0, 2.0});
    D h = x * 2.0;
    D y = h * h; // saves h
    h += D::ones({2});
    EXPECT_THAT(message_of<GraphError>([&] { sum(y).backward(); }), HasSubstr("'mul'"));
}

} // namespace
} // namespace tapegrad
