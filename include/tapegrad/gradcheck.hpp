#pragma once
// Checks the gradients that backward() computes against central finite differences.
//
// For f mapping tensors to a tensor y, gradcheck differentiates the scalar <R, y> for a
// fixed random R of y's shape (a random projection: a wrong Jacobian entry shows up with
// probability 1). For each input that requires a gradient and each of its elements x_i it
// compares the analytic d<R, y>/dx_i from backward() with
//     numeric_i = (<R, f(x + eps e_i)> - <R, f(x - eps e_i)>) / (up - down)
// where up and down are x_i + eps and x_i - eps as rounded to T (the step actually taken)
// and passes when |analytic_i - numeric_i| <= atol + rtol |numeric_i| everywhere (the rule
// of PyTorch's gradcheck). Use double: float's rounding swamps the differences of good
// gradients unless eps and the tolerances are large.

#include "tapegrad/tensor.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace tapegrad {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
    /// Seed of the random projection R (and of the sampled elements).
    unsigned seed = 0;
    /// When non-zero, check only this many elements of each input, drawn at random (for
    /// large inputs such as a whole model's weights); 0 checks every element.
    std::size_t max_elements_per_input = 0;
    /// Defaults fit for float: a larger step, looser tolerances.
    static GradcheckOptions for_float() { return {1e-3, 1e-2, 1e-2, 0, 0}; }
};

struct GradcheckResult {
    bool passed = true;
    std::size_t elements_checked = 0;
    /// How many elements lie outside the tolerance.
    std::size_t elements_failed = 0;
    double max_abs_error = 0;
    /// max |analytic - numeric| / |numeric| over elements with numeric != 0.
    double max_rel_error = 0;
    /// The element furthest outside the tolerance (or nearest to it when all pass).
    struct Element {
        std::size_t input = 0; // position in the inputs
        Shape index;           // its multi-index in that input
        double analytic = 0, numeric = 0;
    } worst;
    GradcheckOptions options;

    /// A few readable lines: verdict, errors, the worst element.
    std::string report() const;
};

std::ostream& operator<<(std::ostream& out, const GradcheckResult& result);

template <class T>
using GradcheckFunction = std::function<Tensor<T>(const std::vector<Tensor<T>>&)>;

/// Checks f's gradients with respect to each of `inputs` that requires a gradient. Inputs'
/// own gradients are left untouched. Throws GraphError when no input requires a gradient
/// or f's output was not recorded from them.
GradcheckResult gradcheck(const GradcheckFunction<double>& f,
                          const std::vector<Tensor<double>>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradcheck(const GradcheckFunction<float>& f,
                          const std::vector<Tensor<float>>& inputs,
                          const GradcheckOptions& options = GradcheckOptions::for_float());

/// Checks f's second derivatives, as PyTorch's gradgradcheck: the first-order gradient
/// g(x, R) = d<R, f(x)>/dx, computed by a backward that creates a graph, is itself checked
/// with gradcheck against finite differences, with respect to each input that requires a
/// gradient and to R (a random output gradient, which the report counts as the last input).
/// This differentiates every op's backward once more.
GradcheckResult gradgradcheck(const GradcheckFunction<double>& f,
                              const std::vector<Tensor<double>>& inputs,
                              const GradcheckOptions& options = {});

} // namespace tapegrad

/// fmt::print("{}", result) prints result.report().
template <> struct fmt::formatter<tapegrad::GradcheckResult> {
    constexpr auto parse(fmt::format_parse_context& context) { return context.begin(); }
    auto format(const tapegrad::GradcheckResult& result, fmt::format_context& context) const {
        const std::string text = result.report();
        return std::copy(text.begin(), text.end(), context.out());
    }
};
