// A critic trained with a gradient penalty, as in WGAN-GP: the loss contains the norm of the
// critic's gradient with respect to its input, so training differentiates a gradient
// (docs/higher-order.md). The loss's own gradient is first checked against finite
// differences. Exits non-zero if the check fails or training does not lower the loss.

#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/optimizer.hpp>
#include <tapegrad/tapegrad.hpp>

#include <iostream>

using D = tapegrad::Tensor<double>;

int main() {
    using namespace tapegrad;
    manual_seed(6);
    std::mt19937_64 init(6);
    nn::Sequential<double> critic =
        nn::make_mlp<double>({2, 16, 1}, nn::ActivationKind::tanh, init);
    const D real = randn<double>({32, 2}) * 0.3 + 1.0, fake = randn<double>({32, 2}) * 0.3 - 1.0;
    const double weight = 0.5;

    // loss = mean(C(fake)) - mean(C(real)) + weight * mean over x of |dC(x)/dx|^2, x on the
    // segments between real and fake points.
    const auto loss_of = [&](nn::Sequential<double>& c) {
        const D t = rand<double>({32, 1});
        const D between = (real * t + fake * (1.0 - t)).set_requires_grad();
        GradOptions create;
        create.create_graph = true;
        const D slope = grad(sum(c(between)), {between}, create)[0];
        return mean(c(fake)) - mean(c(real)) + mean(sum(slope * slope, {1})) * weight;
    };

    // The gradient of the whole loss, second derivatives included, against finite differences.
    std::vector<D> parameters = critic.parameters();
    const GradcheckResult check = gradcheck(
        [&](const std::vector<D>& p) {
            auto named = critic.named_parameters();
            for (std::size_t k = 0; k < p.size(); ++k) *named[k].tensor = p[k];
            manual_seed(7); // the same interpolation points for every evaluation
            return loss_of(critic);
        },
        parameters);
    auto named = critic.named_parameters();
    for (std::size_t k = 0; k < parameters.size(); ++k) *named[k].tensor = parameters[k];
    std::cout << check << "\n";

    optim::Adam<double> adam(critic.parameters(), {1e-2, 0.9, 0.999, 1e-8, 0, false});
    manual_seed(8);
    const double first = loss_of(critic).item();
    double last = first;
    for (int step = 0; step < 200; ++step) {
        adam.zero_grad();
        const D loss = loss_of(critic);
        loss.backward();
        adam.step();
        last = loss.item();
    }
    std::cout << "critic loss " << first << " -> " << last << " after 200 steps\n";
    const bool ok = check.passed && last < first - 0.5;
    std::cout << (ok ? "gradient penalty: trains\n" : "gradient penalty: FAILED\n");
    return ok ? 0 : 1;
}
