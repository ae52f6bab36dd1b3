#pragma once
// Exports the recorded graph that produced a tensor in Graphviz's DOT language, for
// `dot -Tsvg graph.dot > graph.svg`.

#include "tapegrad/tensor.hpp"

#include <string>
#include <utility>
#include <vector>

namespace tapegrad {

template <class T> struct DotOptions {
    /// Names to show for leaves, such as a model's parameters (nn::parameter_names).
    std::vector<std::pair<Tensor<T>, std::string>> names;
    /// The graph's name in the DOT text.
    std::string title = "tapegrad";
};

/// The graph of `root`: one box per op (its name, output shape and the values it saved for
/// backward), one per leaf (its name if given), an arrow from each input to its op. Ops
/// whose saved values a backward already released are drawn dashed. Walks the graph
/// iteratively, so any depth exports.
template <class T> std::string to_dot(const Tensor<T>& root, const DotOptions<T>& options = {});

} // namespace tapegrad
