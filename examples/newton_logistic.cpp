// Newton's method for an L2-regularised logistic regression, each step solved by conjugate
// gradients on Hessian-vector products: the Hessian itself is never formed
// (docs/higher-order.md). Exits non-zero unless the gradient norm falls below 1e-10 within
// 10 iterations.

#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <iostream>

using D = tapegrad::Tensor<double>;

int main() {
    using namespace tapegrad;
    manual_seed(5);
    const std::size_t samples = 200, features = 6;
    const D x = randn<double>({samples, features});
    // Labels +-1 from a noisy linear rule, so the classes overlap.
    const D truth({features, 1}, {1.5, -2.0, 0.5, 0.0, 1.0, -0.5});
    const D noisy = matmul(x, truth) + randn<double>({samples, 1}) * 1.5;
    const D y = where(noisy > 0.0, 1.0, -1.0);
    const double l2 = 1e-2;

    // L(w) = mean(log(1 + e^(-y x w))) + l2/2 |w|^2
    const auto loss_of = [&](const D& w) {
        return mean(log(exp(-(y * matmul(x, w))) + 1.0)) + sum(w * w) * (l2 / 2);
    };
    const auto dot = [](const D& a, const D& b) { return sum(a * b).item(); };

    D w = D::zeros({features, 1}, true);
    bool converged = false;
    for (int iteration = 1; iteration <= 10 && !converged; ++iteration) {
        GradOptions create;
        create.create_graph = true;
        const D g = grad(loss_of(w), {w}, create)[0];
        const double norm = std::sqrt(dot(g, g));
        std::cout << "iteration " << iteration << ": loss " << loss_of(w).item()
                  << ", gradient norm " << norm << "\n";
        if (norm < 1e-10) {
            converged = true;
            break;
        }
        // Solve H p = -g by conjugate gradients; H v = d<g, v>/dw, through g's own graph.
        const auto hessian_times = [&](const D& v) {
            GradOptions keep;
            keep.retain_graph = true;
            return grad(sum(g * v), {w}, keep)[0];
        };
        const D gradient = g.detach();
        D p = D::zeros(w.shape()), r = -gradient, direction = r;
        double rr = dot(r, r);
        for (std::size_t k = 0; k < features && rr > 1e-30; ++k) {
            const D hd = hessian_times(direction);
            const double alpha = rr / dot(direction, hd);
            p = p + direction * alpha;
            r = r - hd * alpha;
            const double next = dot(r, r);
            direction = r + direction * (next / rr);
            rr = next;
        }
        NoGrad update;
        w += p;
    }
    if (!converged) {
        const D g = grad(loss_of(w), {w})[0];
        converged = std::sqrt(dot(g, g)) < 1e-10;
    }
    std::cout << (converged ? "newton: converged\n"
                            : "newton: FAILED to converge in 10 iterations\n");
    return converged ? 0 : 1;
}
