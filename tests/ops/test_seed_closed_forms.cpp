// The closed-form matrix gradients of docs/ops.md (linear layer, softmax, cross-entropy and
// their fusion), computed here by explicit loops on random data, against what backward()
// produces.

#include "random_tensors.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace tapegrad {
namespace {

using D = Tensor<double>;

struct Sizes {
    std::size_t S, M, N;
};

class SeedClosedForms : public ::testing::TestWithParam<Sizes> {};

/// |a - b| <= 1e-12 max(1, |b|) elementwise.
void expect_close(const std::vector<double>& a, const std::vector<double>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_NEAR(a[i], b[i], 1e-12 * std::max(1.0, std::abs(b[i]))) << "element " << i;
    }
}

TEST_P(SeedClosedForms, Linear) {
    const auto [S, M, N] = GetParam();
    std::mt19937 rng(static_cast<unsigned>(S * 100 + M * 10 + N));
    D X = testing::random_tensor<double>({S, M}, rng),
      W = testing::random_tensor<double>({N, M}, rng), b = testing::random_tensor<double>({N}, rng),
      G = testing::random_tensor<double>({S, N}, rng, testing::Domain::any, false);
    linear(X, W, b).backward(G); // L = <G, Y>, so dL/dY = G
    std::vector<double> dW(N * M, 0), db(N, 0), dX(S * M, 0);
    const double *x = X.data(), *w = W.data(), *g = G.data();
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t n = 0; n < N; ++n) {
            db[n] += g[s * N + n]; // 1b
            for (std::size_t m = 0; m < M; ++m) {
                dW[n * M + m] += g[s * N + n] * x[s * M + m]; // 1a
                dX[s * M + m] += g[s * N + n] * w[n * M + m]; // 1c
            }
        }
    expect_close(W.grad().to_vector(), dW);
    expect_close(b.grad().to_vector(), db);
    expect_close(X.grad().to_vector(), dX);
}

TEST_P(SeedClosedForms, SoftmaxAndFusedCrossEntropy) {
    const auto [S, C, unused] = GetParam();
    (void)unused;
    std::mt19937 rng(static_cast<unsigned>(S * 7 + C));
    D Z = testing::random_tensor<double>({S, C}, rng);
    D G = testing::random_tensor<double>({S, C}, rng, testing::Domain::any, false);
    const std::vector<double> Y = softmax(Z.detach()).to_vector();

    // 1e: dZ = Y (.) (G - rowsum(G (.) Y))
    softmax(Z).backward(G);
    std::vector<double> expected(S * C);
    for (std::size_t s = 0; s < S; ++s) {
        double row = 0;
        for (std::size_t c = 0; c < C; ++c) row += G.data()[s * C + c] * Y[s * C + c];
        for (std::size_t c = 0; c < C; ++c)
            expected[s * C + c] = Y[s * C + c] * (G.data()[s * C + c] - row);
    }
    expect_close(Z.grad().to_vector(), expected);

    // 2a corrected: dZ = (Y - T) / S for probability rows T, and for labels (one-hot T).
    D T = testing::random_distribution_rows<double>(S, C, rng);
    Labels labels(S);
    for (std::size_t s = 0; s < S; ++s) labels[s] = static_cast<std::int64_t>((s * 3) % C);
    Z.zero_grad();
    softmax_cross_entropy(Z, T).backward();
    for (std::size_t i = 0; i < S * C; ++i) expected[i] = (Y[i] - T.data()[i]) / double(S);
    expect_close(Z.grad().to_vector(), expected);

    Z.zero_grad();
    softmax_cross_entropy(Z, labels).backward();
    for (std::size_t s = 0; s < S; ++s)
        for (std::size_t c = 0; c < C; ++c)
            expected[s * C + c] =
                (Y[s * C + c] - (std::int64_t(c) == labels[s] ? 1.0 : 0.0)) / double(S);
    expect_close(Z.grad().to_vector(), expected);

    // 1f: dP = -(1/S) T (/) P
    D P = D(Shape{S, C}, Y, true);
    cross_entropy(P, T).backward();
    for (std::size_t i = 0; i < S * C; ++i) expected[i] = -T.data()[i] / Y[i] / double(S);
    expect_close(P.grad().to_vector(), expected);
}

/// Edge sizes (all 1) and 20 random draws of S, M, N (C = M for softmax) in [1, 24].
std::vector<Sizes> seed_sizes() {
    std::vector<Sizes> sizes{{1, 1, 1}, {4, 5, 3}, {3, 12, 1}, {16, 10, 10}};
    std::mt19937 rng(2024);
    std::uniform_int_distribution<std::size_t> extent(1, 24);
    for (int i = 0; i < 20; ++i) sizes.push_back({extent(rng), extent(rng), extent(rng)});
    return sizes;
}

INSTANTIATE_TEST_SUITE_P(RandomSizes, SeedClosedForms, ::testing::ValuesIn(seed_sizes()),
                         [](const ::testing::TestParamInfo<Sizes>& param) {
                             const Sizes& s = param.param;
                             return "S" + std::to_string(s.S) + "_M" + std::to_string(s.M) + "_N" +
                                    std::to_string(s.N) + "_" + std::to_string(param.index);
                         });

TEST(SeedErrata, TheTextsResultFor2aIsWrong) {
    // The text's M = (T (.) Y) 1 1^T - T differs from the true gradient (Y - T)/S.
    std::mt19937 rng(11);
    const std::size_t S = 4, C = 5;
    D Z = testing::random_tensor<double>({S, C}, rng);
    D T = testing::random_distribution_rows<double>(S, C, rng);
    softmax_cross_entropy(Z, T).backward();
    const std::vector<double> Y = softmax(Z.detach()).to_vector();
    double largest_gap = 0;
    for (std::size_t s = 0; s < S; ++s) {
        double row = 0;
        for (std::size_t c = 0; c < C; ++c) row += T.data()[s * C + c] * Y[s * C + c];
        for (std::size_t c = 0; c < C; ++c) {
            const double text = (row - T.data()[s * C + c]) / double(S);
            largest_gap = std::max(largest_gap, std::abs(text - Z.grad().data()[s * C + c]));
        }
    }
    EXPECT_GT(largest_gap, 1e-3);
}

} // namespace
} // namespace tapegrad
