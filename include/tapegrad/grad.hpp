#pragma once
// tapegrad::grad: gradients as tensors, without touching .grad(), as torch.autograd.grad.

#include "tapegrad/tensor.hpp"

#include <vector>

namespace tapegrad {

struct GradOptions {
    /// Keep the graph for another backward through it (implied by create_graph).
    bool retain_graph = false;
    /// Record the backward pass, so that the gradients returned can be differentiated.
    bool create_graph = false;
    /// An input that does not influence the outputs gets zeros instead of a GraphError.
    bool allow_unused = false;
};

/// The gradients of sum_k <grad_outputs[k], outputs[k]> with respect to each input, in
/// order. grad_outputs may be empty when every output has one element (seed 1). Inputs may
/// be leaves or intermediate tensors; only the closures on a path to one of them run.
/// (Overloads per element type, so that braced lists work: grad({y}, {x}).)
std::vector<Tensor<double>> grad(const std::vector<Tensor<double>>& outputs,
                                 const std::vector<Tensor<double>>& inputs,
                                 const std::vector<Tensor<double>>& grad_outputs = {},
                                 const GradOptions& options = {});
std::vector<Tensor<float>> grad(const std::vector<Tensor<float>>& outputs,
                                const std::vector<Tensor<float>>& inputs,
                                const std::vector<Tensor<float>>& grad_outputs = {},
                                const GradOptions& options = {});

/// The gradients of the one-element `output` with respect to each input.
std::vector<Tensor<double>> grad(const Tensor<double>& output,
                                 const std::vector<Tensor<double>>& inputs,
                                 const GradOptions& options = {});
std::vector<Tensor<float>> grad(const Tensor<float>& output,
                                const std::vector<Tensor<float>>& inputs,
                                const GradOptions& options = {});

} // namespace tapegrad
