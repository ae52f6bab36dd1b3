// Update rules against hand-computed steps (the formulas of torch.optim), and schedules.

#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/schedule.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

namespace tapegrad::optim {
namespace {

using D = Tensor<double>;

/// Sets p's gradient to `g` through a backward of <g, p>.
void set_gradient(D& p, const std::vector<double>& g) {
    p.zero_grad();
    sum(p * D(p.shape(), g)).backward();
}

TEST(Sgd, PlainStep) {
    D p({2}, {1.0, -2.0}, true);
    Sgd<double> sgd({p}, {0.1, 0, false, 0});
    set_gradient(p, {0.5, 1.0});
    sgd.step();
    EXPECT_DOUBLE_EQ(p.data()[0], 1.0 - 0.1 * 0.5);
    EXPECT_DOUBLE_EQ(p.data()[1], -2.0 - 0.1 * 1.0);
}

TEST(Sgd, MomentumNesterovAndWeightDecayOverTwoSteps) {
    D p({1}, {1.0}, true);
    Sgd<double> sgd({p}, {0.1, 0.9, true, 0.01});
    double expected = 1.0, v = 0;
    for (int step = 0; step < 2; ++step) {
        set_gradient(p, {0.5});
        const double g = 0.5 + 0.01 * expected;
        v = step == 0 ? g : 0.9 * v + g;
        expected -= 0.1 * (g + 0.9 * v);
        sgd.step();
        EXPECT_NEAR(p.data()[0], expected, 1e-15);
    }
}

TEST(Adam, FirstStepMovesByTheLearningRateAgainstTheGradientSign) {
    D p({3}, {1.0, 1.0, 1.0}, true);
    Adam<double> adam({p}, AdamOptions{});
    set_gradient(p, {0.3, -2.0, 1e-3});
    adam.step();
    // m^ = g, v^ = g^2: the step is lr g / (|g| + eps)
    EXPECT_NEAR(p.data()[0], 1.0 - 1e-3, 1e-10);
    EXPECT_NEAR(p.data()[1], 1.0 + 1e-3, 1e-10);
    EXPECT_NEAR(p.data()[2], 1.0 - 1e-3 * 1e-3 / (1e-3 + 1e-8), 1e-12);
}

TEST(Adam, SecondStepFollowsTheBiasCorrectedMoments) {
    D p({1}, {0.0}, true);
    AdamOptions options;
    options.learning_rate = 0.01;
    Adam<double> adam({p}, options);
    set_gradient(p, {1.0});
    adam.step();
    set_gradient(p, {-0.5});
    adam.step();
    const double m = 0.9 * 0.1 + 0.1 * -0.5, v = 0.999 * 0.001 + 0.001 * 0.25;
    const double m_hat = m / (1 - 0.81), v_hat = v / (1 - 0.999 * 0.999);
    const double first_step = -0.01 * 1.0 / (1.0 + 1e-8);
    EXPECT_NEAR(p.data()[0], first_step - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-12);
}

TEST(Adam, AdamWDecaysTheWeightsApartFromTheGradient) {
    D p({1}, {2.0}, true);
    AdamOptions options;
    options.learning_rate = 0.1;
    options.weight_decay = 0.5;
    options.decoupled_weight_decay = true;
    Adam<double> adamw({p}, options);
    set_gradient(p, {0.0}); // no gradient: only the decay acts
    adamw.step();
    EXPECT_NEAR(p.data()[0], 2.0 * (1 - 0.1 * 0.5), 1e-12);
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
    D p({1}, {1.0}, true);
    Adam<double> adam({p}, AdamOptions{});
    adam.step();
    EXPECT_EQ(p.data()[0], 1.0);
}

/// Three steps with fixed gradients on parameters `a` and `b` (b only from step 2 on).
template <class Make> std::vector<double> three_steps(Make make, int stop_after = 3) {
    D a({2}, {1.0, -2.0}, true), b({3}, {0.5, 0.25, -1.0}, true);
    auto optimizer = make(std::vector<D>{a, b});
    for (int step = 1; step <= stop_after; ++step) {
        set_gradient(a, {0.3 * step, -0.2});
        if (step > 1) set_gradient(b, {0.1, -0.4 * step, 0.2});
        optimizer->step();
    }
    if (stop_after == 3) return {a.data()[0], a.data()[1], b.data()[0], b.data()[1], b.data()[2]};
    // Continue in a new optimizer from the state of this one.
    auto resumed = make(std::vector<D>{a, b});
    resumed->load_state(optimizer->state());
    for (int step = stop_after + 1; step <= 3; ++step) {
        set_gradient(a, {0.3 * step, -0.2});
        if (step > 1) set_gradient(b, {0.1, -0.4 * step, 0.2});
        resumed->step();
    }
    return {a.data()[0], a.data()[1], b.data()[0], b.data()[1], b.data()[2]};
}

TEST(OptimizerState, LoadingTheStateContinuesExactly) {
    const auto adam = [](std::vector<D> p) {
        return std::make_unique<Adam<double>>(std::move(p), AdamOptions{});
    };
    const auto sgd = [](std::vector<D> p) {
        return std::make_unique<Sgd<double>>(std::move(p), SgdOptions{0.1, 0.9, true, 0.01});
    };
    for (int stop : {1, 2}) {
        EXPECT_EQ(three_steps(adam, stop), three_steps(adam)) << "adam, stopped after " << stop;
        EXPECT_EQ(three_steps(sgd, stop), three_steps(sgd)) << "sgd, stopped after " << stop;
    }
}

TEST(OptimizerState, NamesFollowPyTorchAndUnusedBuffersAreAbsent) {
    D a({2}, {1.0, -2.0}, true), b({3}, {0.0, 0.0, 0.0}, true);
    Adam<double> adam({a, b}, AdamOptions{});
    set_gradient(a, {1.0, 1.0});
    adam.step();
    const OptimizerState<double> state = adam.state();
    EXPECT_EQ(state.buffers.size(), 2u);
    EXPECT_EQ(state.buffers.at("state.0.exp_avg").size(), 2u);
    EXPECT_EQ(state.buffers.count("state.0.exp_avg_sq"), 1u);
    EXPECT_EQ(state.counters.at("state.0.step"), 1);
    EXPECT_EQ(state.counters.count("state.1.step"), 0u); // b never had a gradient
}

TEST(OptimizerState, BadStatesAreRejectedByNameAndChangeNothing) {
    D a({2}, {1.0, -2.0}, true);
    Adam<double> adam({a}, AdamOptions{});
    OptimizerState<double> wrong_size;
    wrong_size.buffers["state.0.exp_avg"] = {1.0, 2.0, 3.0};
    try {
        adam.load_state(wrong_size);
        FAIL() << "expected ValueError";
    } catch (const ValueError& error) {
        EXPECT_STREQ(error.what(),
                     "load_state: 'state.0.exp_avg' has 3 values but parameter 0 has 2 elements");
    }
    OptimizerState<double> unknown;
    unknown.counters["state.1.step"] = 4;
    try {
        adam.load_state(unknown);
        FAIL() << "expected ValueError";
    } catch (const ValueError& error) {
        EXPECT_STREQ(error.what(), "load_state: unknown entry 'state.1.step'");
    }
    EXPECT_TRUE(adam.state().buffers.empty());
}

TEST(Schedule, CosineAndStep) {
    Schedule cosine{ScheduleKind::cosine, 1.0, 10, 0.0, 1, 0.1};
    EXPECT_DOUBLE_EQ(cosine.rate(0), 1.0);
    EXPECT_NEAR(cosine.rate(5), 0.5, 1e-12);
    EXPECT_NEAR(cosine.rate(10), 0.0, 1e-12);
    Schedule step{ScheduleKind::step, 1.0, 10, 0.0, 3, 0.1};
    EXPECT_DOUBLE_EQ(step.rate(2), 1.0);
    EXPECT_NEAR(step.rate(3), 0.1, 1e-15);
    EXPECT_NEAR(step.rate(6), 0.01, 1e-15);
    EXPECT_THROW(parse_schedule("linear"), ValueError);
}

} // namespace
} // namespace tapegrad::optim
