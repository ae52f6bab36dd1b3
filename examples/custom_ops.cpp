// Two ops written by a user with the public op API (docs/custom-ops.md): softplus and a
// bilinear form x^T A y. Each is checked against finite differences, first and second
// order; a deliberately wrong backward is caught; the graph of a use is exported to DOT.
// Exits non-zero if any check does not come out as expected.

#include <tapegrad/function.hpp>
#include <tapegrad/tapegrad.hpp>

#include <xtensor/xmath.hpp>

#include <fstream>
#include <iostream>

using tapegrad::Tensor;
using tapegrad::TensorGradients;

// Y = softplus(X) = log(1 + e^X)        dX = dY (.) sigmoid(X)
template <class T> Tensor<T> softplus(const Tensor<T>& x) {
    const Tensor<T> y = tapegrad::from_xtensor(xt::log1p(xt::exp(tapegrad::as_xtensor(x))));
    return tapegrad::record("softplus", {x}, y, tapegrad::saving(x),
                            [](TensorGradients<T>& d, const Tensor<T>& dY, const Tensor<T>& X) {
                                d.add(0, dY * tapegrad::sigmoid(X));
                            });
}

// s = X^T A Y        dX = ds A Y        dA = ds X Y^T        dY = ds A^T X
template <class T> Tensor<T> bilinear(const Tensor<T>& x, const Tensor<T>& a, const Tensor<T>& y) {
    using namespace tapegrad;
    if (x.rank() != 1 || y.rank() != 1 || a.shape() != Shape{x.size(), y.size()}) {
        throw ShapeError("bilinear: expected x (n,), A (n, m) and y (m,)");
    }
    Tensor<T> s;
    {
        NoGrad values_only; // the forward on plain values, here with tapegrad's own ops
        s = sum(x * reshape(matmul(a, reshape(y, {-1, 1})), {-1}));
    }
    return record(
        "bilinear", {x, a, y}, s, saving(x, a, y),
        [](TensorGradients<T>& d, const Tensor<T>& ds, const Tensor<T>& X, const Tensor<T>& A,
           const Tensor<T>& Y) {
            const Tensor<T> column_x = reshape(X, {-1, 1}), column_y = reshape(Y, {-1, 1});
            if (d.wants(0)) d.add(0, ds * reshape(matmul(A, column_y), {-1}));
            if (d.wants(1)) d.add(1, ds * matmul(column_x, matrix_transpose(column_y)));
            if (d.wants(2)) d.add(2, ds * reshape(matmul(matrix_transpose(A), column_x), {-1}));
        });
}

// softplus with a wrong backward: exp(X) instead of sigmoid(X).
template <class T> Tensor<T> softplus_with_a_bug(const Tensor<T>& x) {
    const Tensor<T> y = tapegrad::from_xtensor(xt::log1p(xt::exp(tapegrad::as_xtensor(x))));
    return tapegrad::record("softplus_with_a_bug", {x}, y, tapegrad::saving(x),
                            [](TensorGradients<T>& d, const Tensor<T>& dY, const Tensor<T>& X) {
                                d.add(0, dY * tapegrad::exp(X));
                            });
}

int main() {
    using D = Tensor<double>;
    tapegrad::manual_seed(1);
    const D x = tapegrad::randn<double>({4}, tapegrad::default_generator(), true);
    const D A = tapegrad::randn<double>({4, 3}, tapegrad::default_generator(), true);
    const D y = tapegrad::randn<double>({3}, tapegrad::default_generator(), true);
    bool ok = true;

    const auto softplus_of = [](const std::vector<D>& in) { return softplus(in[0]); };
    const auto bilinear_of = [](const std::vector<D>& in) { return bilinear(in[0], in[1], in[2]); };
    const tapegrad::GradcheckResult checks[] = {tapegrad::gradcheck(softplus_of, {x}),
                                                tapegrad::gradgradcheck(softplus_of, {x}),
                                                tapegrad::gradcheck(bilinear_of, {x, A, y}),
                                                tapegrad::gradgradcheck(bilinear_of, {x, A, y})};
    for (const auto& check : checks) {
        std::cout << check << "\n";
        ok = ok && check.passed;
    }

    const tapegrad::GradcheckResult caught = tapegrad::gradcheck(
        [](const std::vector<D>& in) { return softplus_with_a_bug(in[0]); }, {x});
    std::cout << "the wrong backward:\n" << caught << "\n";
    ok = ok && !caught.passed && caught.elements_failed == x.size();

    // The graph of a use of both, written for Graphviz: dot -Tsvg custom_ops.dot
    tapegrad::DotOptions<double> names;
    names.names = {{x, "x"}, {A, "A"}, {y, "y"}};
    const std::string dot = tapegrad::to_dot(bilinear(softplus(x), A, y), names);
    std::ofstream("custom_ops.dot") << dot;
    ok = ok && dot.find("bilinear") != std::string::npos &&
         dot.find("softplus") != std::string::npos;
    std::cout << "wrote custom_ops.dot\n"
              << (ok ? "custom ops: all checks as expected\n" : "custom ops: FAILED\n");
    return ok ? 0 : 1;
}
