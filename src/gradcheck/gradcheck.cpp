#include "tapegrad/gradcheck.hpp"

#include "tapegrad/detail/shape.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/grad.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/xtensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace tapegrad {

namespace {

Shape unravel(std::size_t flat, const Shape& shape) {
    Shape index(shape.size());
    for (std::size_t k = shape.size(); k-- > 0;) {
        index[k] = flat % shape[k];
        flat /= shape[k];
    }
    return index;
}

/// <R, y>, accumulated in double.
template <class T> double project(const Tensor<T>& y, const Tensor<T>& r) {
    double total = 0;
    for (std::size_t i = 0; i < y.size(); ++i) total += double(y.data()[i]) * double(r.data()[i]);
    return total;
}

template <class T>
Tensor<T> random_like(const Shape& shape, unsigned seed, bool requires_grad = false) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> normal;
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    std::vector<T> values(count);
    for (T& v : values) v = static_cast<T>(normal(generator));
    return Tensor<T>(shape, std::move(values), requires_grad);
}

/// The flat indices of `size` elements to check: all, or a sorted random sample.
std::vector<std::size_t> elements_to_check(std::size_t size, const GradcheckOptions& options,
                                           std::size_t input) {
    std::vector<std::size_t> indices(size);
    for (std::size_t i = 0; i < size; ++i) indices[i] = i;
    const std::size_t wanted = options.max_elements_per_input;
    if (wanted == 0 || wanted >= size) return indices;
    std::mt19937_64 generator(options.seed + 1000003 * (input + 1));
    for (std::size_t i = 0; i < wanted; ++i)
        std::swap(indices[i], indices[i + generator() % (size - i)]);
    indices.resize(wanted);
    std::sort(indices.begin(), indices.end());
    return indices;
}

/// f is evaluated for finite differences as it is for the analytic gradient, recording:
/// a function may compute gradients itself (a gradient penalty, gradgradcheck's own).
template <class T>
GradcheckResult check(const GradcheckFunction<T>& f, const std::vector<Tensor<T>>& inputs,
                      const GradcheckOptions& options) {
    // Fresh leaves with copies of the values, so the caller's gradients stay as they were.
    std::vector<Tensor<T>> leaves;
    bool any_requires_grad = false;
    for (const Tensor<T>& input : inputs) {
        leaves.push_back(from_xtensor(Array<T>(as_xtensor(input)), input.requires_grad()));
        any_requires_grad = any_requires_grad || input.requires_grad();
    }
    if (!any_requires_grad) throw GraphError("gradcheck: none of the inputs requires a gradient");

    Tensor<T> y = f(leaves);
    if (!y.requires_grad()) {
        throw GraphError(fmt::format(
            "gradcheck: the function's output (shape {}) was not recorded from the inputs: it does "
            "not depend on any input that requires a gradient, or it was computed under NoGrad",
            detail::format_shape(y.shape())));
    }
    const Tensor<T> projection = random_like<T>(y.shape(), options.seed);
    y.backward(projection);

    GradcheckResult result;
    result.options = options;
    double worst_excess = -1; // |error| / allowed error of the worst element so far
    for (std::size_t n = 0; n < leaves.size(); ++n) {
        if (!leaves[n].requires_grad()) continue;
        T* x = leaves[n].mutable_data();
        const Tensor<T> analytic = leaves[n].grad();
        for (std::size_t i : elements_to_check(leaves[n].size(), options, n)) {
            // The step actually taken: x +- eps rounded to T.
            const T original = x[i], up = static_cast<T>(original + options.eps),
                    down = static_cast<T>(original - options.eps);
            x[i] = up;
            const double plus = project(f(leaves), projection);
            x[i] = down;
            const double minus = project(f(leaves), projection);
            x[i] = original;

            const double numeric = (plus - minus) / (double(up) - double(down));
            const double exact = analytic.data()[i];
            const double error = std::abs(exact - numeric);
            const double allowed = options.atol + options.rtol * std::abs(numeric);
            // A NaN error makes the maxima NaN, and they stay so.
            const auto raise = [](double& maximum, double value) {
                if (!std::isnan(maximum) && !(value <= maximum)) maximum = value;
            };
            raise(result.max_abs_error, error);
            if (numeric != 0) raise(result.max_rel_error, error / std::abs(numeric));
            if (!(error <= allowed)) { // NaN fails too
                result.passed = false;
                ++result.elements_failed;
            }
            const double excess = std::isnan(error) ? INFINITY : error / allowed;
            if (excess > worst_excess) {
                worst_excess = excess;
                result.worst = {n, unravel(i, leaves[n].shape()), exact, numeric};
            }
            ++result.elements_checked;
        }
    }
    return result;
}

} // namespace

std::string GradcheckResult::report() const {
    const std::string verdict =
        passed ? "passed"
               : fmt::format("FAILED ({} of them outside the tolerance)", elements_failed);
    return fmt::format("gradcheck {}: {} elements, max abs error {:.3e}, max rel error {:.3e} "
                       "(eps {:g}, atol {:g}, rtol {:g})\n"
                       "  worst: input {} at ({}): analytic {:.10g}, numeric {:.10g}",
                       verdict, elements_checked, max_abs_error, max_rel_error, options.eps,
                       options.atol, options.rtol, worst.input, fmt::join(worst.index, ", "),
                       worst.analytic, worst.numeric);
}

std::ostream& operator<<(std::ostream& out, const GradcheckResult& result) {
    return out << result.report();
}

GradcheckResult gradcheck(const GradcheckFunction<double>& f,
                          const std::vector<Tensor<double>>& inputs,
                          const GradcheckOptions& options) {
    return check(f, inputs, options);
}

GradcheckResult gradcheck(const GradcheckFunction<float>& f,
                          const std::vector<Tensor<float>>& inputs,
                          const GradcheckOptions& options) {
    return check(f, inputs, options);
}

GradcheckResult gradgradcheck(const GradcheckFunction<double>& f,
                              const std::vector<Tensor<double>>& inputs,
                              const GradcheckOptions& options) {
    using D = Tensor<double>;
    std::vector<std::size_t> differentiated;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].requires_grad()) differentiated.push_back(i);
    if (differentiated.empty())
        throw GraphError("gradgradcheck: none of the inputs requires a gradient");
    const Shape output_shape = [&] {
        NoGrad shape_only;
        return f(inputs).shape();
    }();

    // g(x, R) = d<R, f(x)>/dx as one vector, recorded so that it can be differentiated.
    const GradcheckFunction<double> first_order = [&](const std::vector<D>& x_and_r) {
        const std::vector<D> x(x_and_r.begin(), x_and_r.end() - 1);
        const D y = f(x);
        std::vector<D> wrt;
        for (std::size_t i : differentiated) wrt.push_back(x[i]);
        GradOptions create;
        create.create_graph = true;
        create.allow_unused = true;
        std::vector<D> pieces;
        for (const D& g : grad(std::vector<D>{y}, wrt, {x_and_r.back()}, create))
            pieces.push_back(reshape(g, {-1}));
        return cat(pieces);
    };
    std::vector<D> x_and_r = inputs;
    x_and_r.push_back(random_like<double>(output_shape, options.seed + 1, true));
    EnableGrad recording;
    return check(first_order, x_and_r, options);
}

} // namespace tapegrad
