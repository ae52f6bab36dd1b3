// Builds a small MLP graph by hand, backpropagates a loss through it, and checks every
// gradient against finite differences.

#include <tapegrad/tapegrad.hpp>

#include <iostream>
#include <random>

using tapegrad::Tensor;

Tensor<double> random_leaf(const tapegrad::Shape& shape, std::mt19937& rng) {
    std::normal_distribution<double> normal(0.0, 0.5);
    std::vector<double> values(shape[0] * (shape.size() > 1 ? shape[1] : 1));
    for (double& v : values) v = normal(rng);
    return Tensor<double>(shape, values, /*requires_grad=*/true);
}

int main() {
    std::mt19937 rng(0);
    const Tensor<double> x = random_leaf({8, 4}, rng).detach(); // a batch of 8 inputs
    const tapegrad::Labels labels{0, 1, 2, 0, 1, 2, 0, 1};
    std::vector<Tensor<double>> parameters{random_leaf({16, 4}, rng), random_leaf({16}, rng),
                                           random_leaf({3, 16}, rng), random_leaf({3}, rng)};

    // loss = CE(softmax(tanh(x W1^T + b1) W2^T + b2), labels)
    auto loss_of = [&](const std::vector<Tensor<double>>& p) {
        const Tensor<double> hidden = tapegrad::tanh(tapegrad::linear(x, p[0], p[1]));
        return tapegrad::softmax_cross_entropy(tapegrad::linear(hidden, p[2], p[3]), labels);
    };

    Tensor<double> loss = loss_of(parameters);
    loss.backward();
    std::cout << "loss " << loss.item() << ", dL/db2 = (" << parameters[3].grad().data()[0] << ", "
              << parameters[3].grad().data()[1] << ", " << parameters[3].grad().data()[2] << ")\n";

    const tapegrad::GradcheckResult check = tapegrad::gradcheck(loss_of, parameters);
    std::cout << check << "\n";
    return check.passed ? 0 : 1;
}
