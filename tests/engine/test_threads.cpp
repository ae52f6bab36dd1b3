// Independent graphs built and differentiated on two threads at once give exactly what
// they give one after the other (docs/design.md, threading model). Also run under
// ThreadSanitizer by scripts/test.sh.

#include "random_tensors.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace tapegrad {
namespace {

using D = Tensor<double>;

/// Gradients of a small MLP loss for a seed-dependent model and batch, over several steps.
std::vector<std::vector<double>> gradients_for(unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<D> p{
        testing::random_tensor<double>({16, 8}, rng), testing::random_tensor<double>({16}, rng),
        testing::random_tensor<double>({4, 16}, rng), testing::random_tensor<double>({4}, rng)};
    const D x = testing::random_tensor<double>({32, 8}, rng, testing::Domain::any, false);
    Labels labels(32);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int64_t((i * seed) % 4);
    std::vector<std::vector<double>> all;
    for (int step = 0; step < 50; ++step) {
        for (D& t : p) t.zero_grad();
        D loss = softmax_cross_entropy(linear(tanh(linear(x, p[0], p[1])), p[2], p[3]), labels) +
                 mean(p[0] * p[0]) * 1e-3;
        loss.backward();
        for (D& t : p) all.push_back(t.grad().to_vector());
        NoGrad no_grad;
        for (D& t : p) { // a plain SGD step so that later steps differ
            const std::vector<double> g = t.grad().to_vector();
            for (std::size_t i = 0; i < g.size(); ++i) t.mutable_data()[i] -= 0.1 * g[i];
        }
    }
    return all;
}

TEST(Threads, IndependentGraphsOnTwoThreadsMatchSequentialRuns) {
    set_num_threads(1);
    const auto first_alone = gradients_for(1), second_alone = gradients_for(2);
    std::vector<std::vector<double>> first_together, second_together;
    std::thread other([&] { second_together = gradients_for(2); });
    first_together = gradients_for(1);
    other.join();
    EXPECT_EQ(first_together, first_alone);
    EXPECT_EQ(second_together, second_alone);
    EXPECT_NE(first_alone, second_alone);
}

TEST(Threads, NoGradAndAnomalyModeArePerThread) {
    NoGrad no_grad;
    bool other_records = false, other_detects = true;
    std::thread other([&] {
        other_records = grad_enabled();
        other_detects = anomaly_detection_enabled();
    });
    other.join();
    EXPECT_FALSE(grad_enabled());
    EXPECT_TRUE(other_records);
    EXPECT_FALSE(other_detects);
}

TEST(Threads, TensorsMadeOnOneThreadAreFreedOnAnother) {
    // Buffers return to the freeing thread's block cache; nothing is lost or doubled.
    const std::size_t nodes_before = live_node_count();
    D made_elsewhere;
    std::thread maker([&] {
        D x = D::ones({64, 64}, true);
        made_elsewhere = sum(tanh(x) * 2.0);
    });
    maker.join();
    made_elsewhere.backward();
    made_elsewhere = D();
    EXPECT_EQ(live_node_count(), nodes_before);
}

} // namespace
} // namespace tapegrad
