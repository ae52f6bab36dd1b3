// Anomaly detection: the first NaN or infinity, forward or backward, names its op.

#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;

template <class F> std::string anomaly_message(F&& f) {
    try {
        f();
    } catch (const NonFiniteError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no NonFiniteError";
    return {};
}

TEST(Anomaly, ForwardNaNNamesTheOpItsInputsAndTheElement) {
    D x({2, 2}, {1.0, -1.0, 2.0, 3.0}, true);
    DetectAnomaly detect;
    const std::string m = anomaly_message([&] { log(x * 1.0); });
    EXPECT_THAT(m, HasSubstr("anomaly: 'log' (op #"));
    EXPECT_THAT(m,
                HasSubstr("inputs (2, 2)) produced nan in its output of shape (2, 2) at (0, 1)"));
}

TEST(Anomaly, BackwardInfinityNamesTheOpWhoseBackwardMadeIt) {
    D x({3}, {4.0, 0.0, 1.0}, true); // sqrt is finite at 0, its derivative is not
    DetectAnomaly detect;
    D loss = sum(sqrt(x));
    const std::string m = anomaly_message([&] { loss.backward(); });
    EXPECT_THAT(m, HasSubstr("the backward of 'sqrt' (op #"));
    EXPECT_THAT(m, HasSubstr("inputs (3,)) produced inf in the gradient of its input 0 ('leaf' of "
                             "shape (3,)) at (1)"));
}

TEST(Anomaly, PositionsCountTheThreadsRecordedOps) {
    D x({1}, {-1.0}, true);
    DetectAnomaly detect;
    const D y = x * 2.0; // one recorded op before the bad one
    const std::string first = anomaly_message([&] { log(y); });
    const std::string second = anomaly_message([&] { log(y); });
    const auto position = [](const std::string& m) {
        return std::stoull(m.substr(m.find('#') + 1));
    };
    EXPECT_EQ(position(second), position(first) + 1);
}

TEST(Anomaly, OffByDefaultAndScoped) {
    D x({1}, {-1.0}, true);
    EXPECT_FALSE(anomaly_detection_enabled());
    EXPECT_TRUE(std::isnan(log(x).item()));
    {
        DetectAnomaly detect;
        EXPECT_TRUE(anomaly_detection_enabled());
        EXPECT_THROW(log(x), NonFiniteError);
    }
    EXPECT_FALSE(anomaly_detection_enabled());
}

} // namespace
} // namespace tapegrad
