#include "tapegrad/dot.hpp"

#include "tapegrad/detail/graph.hpp"

#include <fmt/format.h>

#include <unordered_map>

namespace tapegrad {

namespace {

/// `text` inside a quoted DOT string.
std::string quoted(const std::string& text) {
    std::string escaped;
    for (char c : text) {
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
    }
    return escaped;
}

template <class T> std::string saved_label(const detail::Saved<T>& saved) {
    using Role = typename detail::Saved<T>::Role;
    const char* role = saved.role == Role::input    ? "input"
                       : saved.role == Role::output ? "output"
                                                    : "tensor";
    const std::string which = saved.role == Role::other ? "" : fmt::format(" {}", saved.index);
    return fmt::format("saved {}{} {}", role, which, detail::format_shape(saved.value->shape()));
}

} // namespace

template <class T> std::string to_dot(const Tensor<T>& root, const DotOptions<T>& options) {
    std::unordered_map<const detail::Node<T>*, std::string> leaf_names;
    for (const auto& [tensor, name] : options.names)
        if (tensor.node_ptr()) leaf_names[tensor.node_ptr().get()] = name;

    std::string text =
        fmt::format("digraph \"{}\" {{\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n",
                    quoted(options.title));
    const detail::Node<T>* top = root.node_ptr().get();
    if (!top) {
        return text +
               fmt::format(
                   "  n0 [label=\"constant {}\", style=filled, fillcolor=\"#eeeeee\"];\n}}\n",
                   detail::format_shape(root.value_ptr()->shape()));
    }
    std::unordered_map<const detail::Node<T>*, std::size_t> ids{{top, 0}};
    std::vector<const detail::Node<T>*> stack{top};
    while (!stack.empty()) {
        const detail::Node<T>& node = *stack.back();
        stack.pop_back();
        const std::size_t id = ids.at(&node);
        std::string label, style;
        if (node.is_leaf()) {
            const auto name = leaf_names.find(&node);
            label = fmt::format("{}\\n{}", name != leaf_names.end() ? quoted(name->second) : "leaf",
                                detail::format_shape(node.shape.unpacked()));
            style = "style=filled, fillcolor=\"#d8e8f8\"";
        } else {
            label = fmt::format("{}\\n{}", node.op, detail::format_shape(node.shape.unpacked()));
            for (const detail::Saved<T>* saved : node.saved_values())
                label += "\\n" + saved_label(*saved);
            if (node.released()) {
                label += "\\n(released)";
                style = "style=dashed, color=\"#888888\"";
            }
        }
        if (&node == top) style += std::string(style.empty() ? "" : ", ") + "penwidth=2";
        text +=
            fmt::format("  n{} [label=\"{}\"{}{}];\n", id, label, style.empty() ? "" : ", ", style);
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            const detail::Node<T>* input = node.inputs[i].get();
            if (!input) continue;
            const auto [at, added] = ids.emplace(input, ids.size());
            if (added) stack.push_back(input);
            text += fmt::format("  n{} -> n{};\n", at->second, id);
        }
    }
    return text + "}\n";
}

template std::string to_dot(const Tensor<float>&, const DotOptions<float>&);
template std::string to_dot(const Tensor<double>&, const DotOptions<double>&);

} // namespace tapegrad
