// The process group and the gradient reducer, run by mpirun with two or more processes.

#include "error_message.hpp"
#include "tapegrad/distributed.hpp"
#include "tapegrad/ops.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace tapegrad::distributed {
namespace {

const ProcessGroup* group = nullptr; // made in main, before any test

/// Parameters of several sizes; the loss gives parameter k the gradient (rank + 1) * (k + 1)
/// in every element, so their mean over the ranks is (size + 1) / 2 * (k + 1).
std::vector<Tensor<float>> parameters() {
    std::vector<Tensor<float>> p;
    for (std::size_t n : {3u, 1000u, 7u, 20000u, 1u}) {
        p.push_back(Tensor<float>::zeros({n}, true));
    }
    return p;
}

Tensor<float> loss_of(const std::vector<Tensor<float>>& p) {
    Tensor<float> loss = Tensor<float>::scalar(0);
    for (std::size_t k = 0; k < p.size(); ++k) {
        loss = loss + sum(p[k] * float((group->rank() + 1) * int(k + 1)));
    }
    return loss;
}

void expect_mean_gradients(const std::vector<Tensor<float>>& p, float times = 1) {
    const float mean_rank_factor = float(group->size() + 1) / 2;
    for (std::size_t k = 0; k < p.size(); ++k) {
        const std::vector<float> g = p[k].grad().to_vector();
        for (float v : g) ASSERT_FLOAT_EQ(v, times * mean_rank_factor * float(k + 1)) << k;
    }
}

class Reducer : public ::testing::TestWithParam<std::tuple<std::size_t, bool>> {};

TEST_P(Reducer, AveragesEveryGradientOverTheRanksInAnyBucketing) {
    const auto [bucket_bytes, overlap] = GetParam();
    std::vector<Tensor<float>> p = parameters();
    GradientReducer reducer(*group, p, {bucket_bytes, overlap});
    for (int step = 0; step < 3; ++step) {
        for (Tensor<float>& t : p) t.zero_grad();
        loss_of(p).backward();
        reducer.finish();
        expect_mean_gradients(p);
    }
    EXPECT_EQ(reducer.stats().steps, 3u);
    if (bucket_bytes < 4000) {
        EXPECT_EQ(reducer.bucket_count(), p.size());
    }
}

INSTANTIATE_TEST_SUITE_P(BucketSizes, Reducer,
                         ::testing::Combine(::testing::Values(std::size_t(1), std::size_t(4100),
                                                              std::size_t(1) << 22),
                                            ::testing::Bool()));

TEST(ReducerErrors, AccumulatingAfterABucketWasSentIsAnError) {
    std::vector<Tensor<float>> p = parameters();
    GradientReducer reducer(*group, p, {1, true});
    loss_of(p).backward();
    const std::string message =
        testing::message_of<DistributedError>([&] { loss_of(p).backward(); });
    EXPECT_NE(message.find("call finish() after every backward"), std::string::npos) << message;
    reducer.finish();
}

TEST(ReducerErrors, AParameterNoBackwardReachedCountsAsZero) {
    std::vector<Tensor<float>> p = parameters();
    GradientReducer reducer(*group, p);
    // Only rank 0 computes a gradient for parameter 0.
    if (group->rank() == 0) sum(p[0] * 2.0f).backward();
    reducer.finish();
    for (float v : p[0].grad().to_vector()) EXPECT_FLOAT_EQ(v, 2.0f / float(group->size()));
    for (float v : p[1].grad().to_vector()) EXPECT_FLOAT_EQ(v, 0.0f);
}

TEST(ProcessGroup, BroadcastSumAndAverage) {
    Tensor<float> t = Tensor<float>::full({4}, float(group->rank() + 10));
    group->broadcast({t});
    for (float v : t.to_vector()) EXPECT_EQ(v, 10.0f);
    std::vector<double> values{1.0, double(group->rank())};
    group->sum(values);
    EXPECT_EQ(values[0], double(group->size()));
    EXPECT_EQ(values[1], double(group->size() * (group->size() - 1) / 2));
    Tensor<float> a = Tensor<float>::full({3}, float(group->rank()));
    group->average({a});
    for (float v : a.to_vector()) EXPECT_FLOAT_EQ(v, float(group->size() - 1) / 2);
    std::string bytes = group->rank() == 0 ? std::string("from rank 0\0!", 13) : "";
    group->broadcast(bytes);
    EXPECT_EQ(bytes, std::string("from rank 0\0!", 13));
}

TEST(ProcessGroup, CheckSameThrowsOnEveryRankNamingTheDifference) {
    EXPECT_NO_THROW(group->check_same("model", "Linear(4, 2)"));
    const std::string mine = group->rank() == 1 ? "Linear(4, 3)" : "Linear(4, 2)";
    EXPECT_EQ(testing::message_of<DistributedError>([&] { group->check_same("model", mine); }),
              "the model differs between processes: rank 0 has Linear(4, 2), rank 1 has "
              "Linear(4, 3)");
}

} // namespace
} // namespace tapegrad::distributed

int main(int argc, char** argv) {
    const tapegrad::distributed::ProcessGroup group;
    tapegrad::distributed::group = &group;
    ::testing::InitGoogleTest(&argc, argv);
    if (group.size() < 2) {
        std::fprintf(stderr, "run with mpirun -np 2 (or more)\n");
        return 1;
    }
    // Only rank 0 reports; every rank's result decides the exit code.
    if (group.rank() != 0) {
        delete ::testing::UnitTest::GetInstance()->listeners().Release(
            ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
    }
    int failed = RUN_ALL_TESTS();
    std::vector<double> failures{double(failed != 0)};
    group.sum(failures);
    return failures[0] == 0 ? 0 : 1;
}
