// Bad input: the exception type and a message that names the op and the shapes or values.

#include "error_message.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;
using testing::message_of;

TEST(Errors, AllDeriveFromTheBase) {
    EXPECT_THROW(matmul(D::ones({2, 3}), D::ones({2, 3})), Error);
    EXPECT_THROW(matmul(D::ones({2, 3}), D::ones({2, 3})), std::exception);
}

TEST(Errors, MatmulShapes) {
    const auto m = message_of<ShapeError>([] { matmul(D::ones({128, 784}), D::ones({512, 783})); });
    EXPECT_EQ(m, "matmul: shapes (128, 784) and (512, 783) cannot be multiplied");
    EXPECT_THAT(message_of<ShapeError>([] {
                    matmul(D::ones({3}), D::ones({3, 2}));
                }),
                HasSubstr("(3,)"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    matmul(D::ones({2, 2, 3}), D::ones({3, 3, 1}));
                }),
                HasSubstr("(2, 2, 3) and (3, 3, 1)"));
}

TEST(Errors, BroadcastShapesInEveryBinaryOp) {
    const D a = D::ones({2, 3}), b = D::ones({4, 3});
    EXPECT_THAT(message_of<ShapeError>([&] { a + b; }), HasSubstr("add: shapes (2, 3) and (4, 3)"));
    EXPECT_THAT(message_of<ShapeError>([&] { a - b; }), HasSubstr("sub: shapes (2, 3) and (4, 3)"));
    EXPECT_THAT(message_of<ShapeError>([&] { a* b; }), HasSubstr("mul: shapes (2, 3) and (4, 3)"));
    EXPECT_THAT(message_of<ShapeError>([&] { a / b; }), HasSubstr("div: shapes (2, 3) and (4, 3)"));
}

TEST(Errors, LinearShapes) {
    const auto m = message_of<ShapeError>([] {
        linear(D::ones({8, 5}), D::ones({3, 4}), D::ones({3}));
    });
    EXPECT_THAT(m, HasSubstr("linear: X (8, 5) and W (3, 4)"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    linear(D::ones({8, 4}), D::ones({3, 4}), D::ones({2}));
                }),
                HasSubstr("b (2,)"));
}

TEST(Errors, ShapeMismatchInLosses) {
    EXPECT_THAT(message_of<ShapeError>([] {
                    mse_loss(D::ones({2, 3}), D::ones({3, 2}));
                }),
                HasSubstr("mse_loss: shapes (2, 3) and (3, 2) must be equal"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    cross_entropy(D::ones({2, 3}), D::ones({2, 4}));
                }),
                HasSubstr("cross_entropy: shapes (2, 3) and (2, 4)"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    softmax_cross_entropy(D::ones({2, 3}), D::ones({2, 4}));
                }),
                HasSubstr("softmax_cross_entropy: shapes (2, 3) and (2, 4)"));
    EXPECT_THAT(message_of<ShapeError>([] { softmax_cross_entropy(D::ones({6}), Labels{0}); }),
                HasSubstr("got shape (6,)"));
}

TEST(Errors, BadAxis) {
    EXPECT_EQ(message_of<IndexError>([] {
                  sum(D::ones({2, 3}), {2});
              }),
              "sum: axis 2 is out of range for a tensor of rank 2");
    EXPECT_THAT(message_of<IndexError>([] {
                    softmax(D::ones({2, 3}), -3);
                }),
                ::testing::StartsWith("softmax: axis -3"));
    EXPECT_THAT(message_of<IndexError>([] { max(D::ones({2, 3}), 5); }), HasSubstr("max: axis 5"));
    EXPECT_THAT(message_of<IndexError>([] { mean(D::ones({2, 3}), {0, 0}); }), HasSubstr("repeat"));
    EXPECT_THAT(message_of<IndexError>([] {
                    transpose(D::ones({2, 3}), {0, 0});
                }),
                HasSubstr("transpose: (0, 0) is not a permutation"));
}

TEST(Errors, RangesBeyondTheAxisNameTheOpCalled) {
    EXPECT_EQ(message_of<IndexError>([] {
                  narrow(D::ones({4, 5}), 1, 2, 5);
              }),
              "narrow: 5 entries from 2 do not fit axis 1 of shape (4, 5)");
    // start + length would wrap around; it must not pass as a short range.
    EXPECT_THAT(message_of<IndexError>([] {
                    narrow(D::ones({4, 5}), 1, 2, std::numeric_limits<std::size_t>::max());
                }),
                ::testing::StartsWith("narrow:"));
    EXPECT_EQ(message_of<IndexError>([] {
                  slice(D::ones({4, 5}), 1, 2, 7);
              }),
              "slice: [2, 7) step 1 does not fit axis 1 of shape (4, 5)");
    EXPECT_THAT(message_of<IndexError>([] {
                    narrow(D::ones({4, 5}), 2, 0, 1);
                }),
                ::testing::StartsWith("narrow: axis 2"));
}

TEST(Errors, RepeatedAxesAndEmptyMaxAxis) {
    EXPECT_EQ(message_of<IndexError>([] {
                  sum(D::ones({2, 3}), {1, -1});
              }),
              "sum: axes (1, -1) repeat an axis");
    EXPECT_EQ(message_of<ValueError>([] {
                  max(D::zeros({2, 0}), 1);
              }),
              "max: axis 1 of shape (2, 0) is empty");
}

TEST(Errors, LinearWithoutBiasAndLossesOnNonBatches) {
    EXPECT_EQ(
        message_of<ShapeError>([] {
            linear(D::ones({8, 5}), D::ones({3, 4}));
        }),
        "linear: X (8, 5) and W (3, 4) do not fit Y = X W^T + b (X (S, M), W (N, M), b (N,))");
    EXPECT_THAT(
        message_of<ShapeError>([] {
            cross_entropy(D::ones({0, 3}), D::ones({0, 3}));
        }),
        HasSubstr(
            "cross_entropy: expected a batch of rows (S, C) with S, C >= 1, got shape (0, 3)"));
    EXPECT_THAT(message_of<ShapeError>([] {
                    nll_loss(D::ones({2, 3, 1}), Labels{0, 1});
                }),
                HasSubstr("nll_loss: expected a batch of rows"));
}

TEST(Errors, ReshapeToAWrongSize) {
    EXPECT_EQ(message_of<ShapeError>([] {
                  reshape(D::ones({2, 3}), {4, 2});
              }),
              "reshape: cannot reshape (2, 3) (6 elements) into (4, 2) (8 elements)");
}

TEST(Errors, LabelsOutOfRangeOrWrongCount) {
    EXPECT_EQ(message_of<IndexError>([] {
                  softmax_cross_entropy(D::ones({3, 10}), Labels{1, 12, 0});
              }),
              "softmax_cross_entropy: label 12 at row 1 is out of range for 10 classes");
    EXPECT_THAT(message_of<IndexError>([] {
                    nll_loss(D::ones({2, 4}), Labels{-1, 0});
                }),
                HasSubstr("label -1 at row 0"));
    EXPECT_EQ(message_of<ShapeError>([] {
                  softmax_cross_entropy(D::ones({128, 10}), Labels(100, 0));
              }),
              "softmax_cross_entropy: 100 labels for 128 rows of shape (128, 10)");
}

TEST(Errors, BackwardWithoutSeedOnNonScalar) {
    D x = D::ones({2, 3}, true);
    EXPECT_THAT(message_of<GraphError>([&] { (x * 2.0).backward(); }),
                HasSubstr("backward: the tensor has shape (2, 3)"));
    EXPECT_THAT(message_of<ShapeError>([&] { (x * 2.0).backward(D::ones({3})); }),
                HasSubstr("seed shape (3,) does not match the tensor's shape (2, 3)"));
}

TEST(Errors, BackwardOnATensorWithoutGraph) {
    EXPECT_THAT(message_of<GraphError>([] { sum(D::ones({2})).backward(); }),
                HasSubstr("does not require a gradient"));
}

TEST(Errors, BackwardThroughAReleasedGraph) {
    D x = D::ones({2, 3}, true);
    D loss = sum(relu(x));
    loss.backward();
    EXPECT_THAT(message_of<GraphError>([&] { loss.backward(); }),
                HasSubstr("the graph through 'sum' (output shape ()) was already freed"));
}

TEST(Errors, ItemOfManyElements) {
    EXPECT_THAT(message_of<ValueError>([] {
                    D::ones({2, 2}).item();
                }),
                HasSubstr("shape (2, 2) (4 elements)"));
}

TEST(Errors, TensorFromValuesOfTheWrongCount) {
    EXPECT_EQ(message_of<ShapeError>([] {
                  D({2, 3}, {1.0, 2.0});
              }),
              "Tensor: shape (2, 3) holds 6 elements, but 2 values were given");
}

TEST(Errors, GradOfANonLeaf) {
    D x = D::ones({2}, true);
    EXPECT_THAT(message_of<GraphError>([&] { (x * 2.0).grad(); }),
                HasSubstr("was made by 'mul_scalar'"));
    EXPECT_THAT(message_of<GraphError>([&] { (x * 2.0).set_requires_grad(false); }),
                HasSubstr("only leaves"));
}

TEST(Errors, GradcheckOnAFunctionNotRecordedFromItsInputs) {
    D x = D::ones({2}, true);
    EXPECT_THAT(message_of<GraphError>([&] {
                    gradcheck([](const std::vector<D>& in) { return in[0].detach() * 2.0; }, {x});
                }),
                HasSubstr("gradcheck: the function's output (shape (2,)) was not recorded"));
    EXPECT_THAT(message_of<GraphError>([] {
                    gradcheck([](const std::vector<D>& in) { return in[0]; }, {D::ones({2})});
                }),
                HasSubstr("none of the inputs requires a gradient"));
}

} // namespace
} // namespace tapegrad
