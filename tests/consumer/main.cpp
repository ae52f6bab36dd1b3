// Differentiates a small graph with an installed tapegrad; exits non-zero on a wrong answer.
#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <iostream>

int main() {
    using tapegrad::Tensor;
    Tensor<double> x({3}, {1.0, 2.0, 3.0}, true);
    Tensor<double> loss = tapegrad::sum(x * x); // d/dx = 2x
    loss.backward();
    const auto g = x.grad().to_vector();
    const bool ok = std::abs(g[0] - 2) + std::abs(g[1] - 4) + std::abs(g[2] - 6) < 1e-12;
    std::cout << (ok ? "consumer: gradient correct\n" : "consumer: gradient WRONG\n");
    return ok ? 0 : 1;
}
