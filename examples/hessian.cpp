// The Hessian of a small MLP's loss (212 parameters, double), assembled column by column
// from Hessian-vector products, against the Hessian from finite differences of the gradient
// (docs/higher-order.md). Exits non-zero if they differ or the Hessian is not symmetric.

#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

using D = tapegrad::Tensor<double>;

int main() {
    using namespace tapegrad;
    manual_seed(4);
    const D x = randn<double>({10, 8});
    const Labels labels{0, 1, 2, 3, 0, 1, 2, 3, 0, 1};
    std::vector<D> parameters{randn<double>({16, 8}) * 0.3, randn<double>({16}) * 0.1,
                              randn<double>({4, 16}) * 0.3, randn<double>({4}) * 0.1};
    for (D& p : parameters) p.set_requires_grad();
    const auto loss_of = [&](const std::vector<D>& p) {
        return softmax_cross_entropy(linear(tanh(linear(x, p[0], p[1])), p[2], p[3]), labels);
    };

    std::size_t n = 0;
    for (const D& p : parameters) n += p.size();
    // Row i of the Hessian: d/dθ <dL/dθ, e_i>, one product of the Hessian with a unit vector.
    const auto hessian_times = [&](const std::vector<D>& v) {
        GradOptions create;
        create.create_graph = true;
        const std::vector<D> g = grad(loss_of(parameters), parameters, create);
        D gv = D::scalar(0);
        for (std::size_t k = 0; k < g.size(); ++k) gv = gv + sum(g[k] * v[k]);
        return grad(gv, parameters);
    };
    const auto unit = [&](std::size_t i) {
        std::vector<D> v;
        std::size_t offset = 0;
        for (const D& p : parameters) {
            v.push_back(D::zeros(p.shape()));
            if (i >= offset && i < offset + p.size()) v.back().mutable_data()[i - offset] = 1;
            offset += p.size();
        }
        return v;
    };
    const auto flat = [&](const std::vector<D>& pieces) {
        std::vector<double> all;
        for (const D& piece : pieces)
            all.insert(all.end(), piece.data(), piece.data() + piece.size());
        return all;
    };

    std::vector<std::vector<double>> hessian(n), finite(n);
    const double h = 1e-5;
    for (std::size_t i = 0; i < n; ++i) {
        hessian[i] = flat(hessian_times(unit(i)));
        // Central differences of the gradient along coordinate i.
        std::size_t k = 0, at = i;
        while (at >= parameters[k].size()) at -= parameters[k++].size();
        double* value = parameters[k].mutable_data() + at;
        const double original = *value;
        *value = original + h;
        const std::vector<double> up = flat(grad(loss_of(parameters), parameters));
        *value = original - h;
        const std::vector<double> down = flat(grad(loss_of(parameters), parameters));
        *value = original;
        for (std::size_t j = 0; j < n; ++j) finite[i].push_back((up[j] - down[j]) / (2 * h));
    }
    double largest = 0, difference = 0, asymmetry = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            largest = std::max(largest, std::abs(hessian[i][j]));
            difference = std::max(difference, std::abs(hessian[i][j] - finite[i][j]));
            asymmetry = std::max(asymmetry, std::abs(hessian[i][j] - hessian[j][i]));
        }
    }
    std::cout << "Hessian of " << n << " parameters from Hessian-vector products: largest entry "
              << largest << ", max difference from finite differences " << difference
              << ", max asymmetry " << asymmetry << "\n";
    const bool ok = difference < 1e-6 * std::max(1.0, largest) && asymmetry < 1e-10;
    std::cout << (ok ? "hessian: matches\n" : "hessian: FAILED\n");
    return ok ? 0 : 1;
}
