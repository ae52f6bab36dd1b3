#pragma once
// Random test inputs, seeded so that a failure reproduces.

#include "tapegrad/tensor.hpp"

#include <cmath>
#include <random>
#include <vector>

namespace tapegrad::testing {

/// Where the values of a random input lie; kinks and poles are kept a margin away, so
/// finite differences across them never meet one.
enum class Domain {
    any,            // normal(0, 1)
    away_from_zero, // |x| in [0.2, 2], random sign: relu, abs, divisors, max with margins
    positive,       // [0.2, 2]: log, sqrt, probabilities
};

inline std::vector<double> random_values(std::size_t count, Domain domain, std::mt19937& rng) {
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> magnitude(0.2, 2.0);
    std::bernoulli_distribution negative(0.5);
    std::vector<double> values(count);
    for (double& v : values) {
        switch (domain) {
        case Domain::any:
            v = normal(rng);
            break;
        case Domain::away_from_zero:
            v = negative(rng) ? -magnitude(rng) : magnitude(rng);
            break;
        case Domain::positive:
            v = magnitude(rng);
            break;
        }
    }
    return values;
}

template <class T>
Tensor<T> random_tensor(const Shape& shape, std::mt19937& rng, Domain domain = Domain::any,
                        bool requires_grad = true) {
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    const std::vector<double> values = random_values(count, domain, rng);
    return Tensor<T>(shape, std::vector<T>(values.begin(), values.end()), requires_grad);
}

/// Rows of non-negative values summing to 1 (probability targets).
template <class T>
Tensor<T> random_distribution_rows(std::size_t rows, std::size_t classes, std::mt19937& rng) {
    std::vector<double> values = random_values(rows * classes, Domain::positive, rng);
    for (std::size_t r = 0; r < rows; ++r) {
        double total = 0;
        for (std::size_t c = 0; c < classes; ++c) total += values[r * classes + c];
        for (std::size_t c = 0; c < classes; ++c) values[r * classes + c] /= total;
    }
    return Tensor<T>({rows, classes}, std::vector<T>(values.begin(), values.end()));
}

} // namespace tapegrad::testing
