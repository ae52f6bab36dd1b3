// gradcheck itself: it must fail on a wrong gradient and say where.

#include "tapegrad/function.hpp"
#include "tapegrad/tapegrad.hpp"

#include <xtensor/xview.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tapegrad {
namespace {

using D = Tensor<double>;

/// y = x^2 with a deliberately wrong backward (dx = 3x dy) at element 2.
D square_with_bug(const D& x) {
    return record("buggy_square", {x}, from_xtensor(as_xtensor(x) * as_xtensor(x)), saving(x),
                  [](ArrayGradients<double>& d, const Array<double>& dY, const Array<double>& X) {
                      Array<double> dX = 2.0 * X * dY;
                      dX(2) = 3.0 * X(2) * dY(2);
                      d.add(0, std::move(dX));
                  });
}

TEST(Gradcheck, FailsOnAWrongGradientAndNamesTheElement) {
    D x({4}, {0.5, 1.0, 1.5, 2.0}, true);
    const GradcheckResult result =
        gradcheck([](const std::vector<D>& in) { return square_with_bug(in[0]); }, {x});
    EXPECT_FALSE(result.passed);
    EXPECT_EQ(result.worst.input, 0u);
    EXPECT_EQ(result.worst.index, (Shape{2}));
    EXPECT_NEAR(result.worst.analytic / result.worst.numeric, 1.5, 1e-6);
    EXPECT_EQ(result.elements_failed, 1u);
    EXPECT_THAT(result.report(), ::testing::HasSubstr("FAILED (1 of them outside the tolerance)"));
    EXPECT_THAT(result.report(), ::testing::HasSubstr("input 0 at (2)"));
    EXPECT_EQ(fmt::format("{}", result), result.report());
}

TEST(Gradcheck, PassesAndLeavesTheCallersGradientsAlone) {
    D x({3}, {0.5, 1.0, 1.5}, true);
    const GradcheckResult result =
        gradcheck([](const std::vector<D>& in) { return tanh(in[0]); }, {x});
    EXPECT_TRUE(result.passed) << result;
    EXPECT_EQ(result.elements_checked, 3u);
    EXPECT_LT(result.max_abs_error, 1e-8);
    EXPECT_FALSE(x.has_grad());
}

} // namespace
} // namespace tapegrad
