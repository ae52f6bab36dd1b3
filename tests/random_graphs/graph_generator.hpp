#pragma once
// Random differentiable programs for gradient testing. A program is a list of steps in double
// precision; step i defines the value v_i from earlier values. The generator tracks every
// value's shape and contents while it builds, so each step it emits is valid and its
// operands stay away from kinks, poles, ties and large magnitudes: finite differences of a
// generated program are accurate to well within gradcheck's default tolerances.

#include "op_table.hpp"
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad::testing {

/// Where a step's value comes from.
enum class Source {
    input,    // a leaf requiring a gradient: Program::inputs[slot]
    constant, // a loss target requiring none: Program::constants[slot]
    op,       // op_row(op) on earlier values, with the arguments of the step
};

struct Step : OpArguments {
    Source source = Source::op;
    Op op = Op::add;
    std::vector<std::size_t> operands; // indices of earlier values
    std::size_t slot = 0;              // input and constant: the position in their list
    Shape shape;                       // the value's shape
    std::string note;                  // input and constant: how their values were drawn
};

struct Program {
    /// gradcheck's inputs: leaves requiring gradients.
    std::vector<Tensor<double>> inputs;
    /// Loss targets that require no gradient.
    std::vector<Tensor<double>> constants;
    /// steps[i] defines v_i; the last value is the program's output.
    std::vector<Step> steps;

    /// Evaluates every step with `leaves` (of the shapes of `inputs`) in place of `inputs`.
    Tensor<double> run(const std::vector<Tensor<double>>& leaves) const;

    /// One line per step: `v3 = linear(v0, v1, v2)    # (4, 3)`.
    std::string to_string() const;

    /// The steps that compute something (all but inputs and constants).
    std::size_t op_count() const;
};

/// A random program of up to about 50 steps with 1-4 inputs, reproducible from `seed`.
Program random_program(std::uint64_t seed);

} // namespace tapegrad::testing
