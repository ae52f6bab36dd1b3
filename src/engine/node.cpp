// Nodes: creation, iterative destruction, selectors of multi-output ops, what a tensor keeps
// of its gradient, and how closures see saved values.

#include "tapegrad/function.hpp"

#include <atomic>
#include <vector>

namespace tapegrad {

namespace {
std::atomic<std::size_t> live_nodes{0};
thread_local std::uint64_t nodes_recorded_by_this_thread = 0;
} // namespace

std::size_t live_node_count() {
    return live_nodes.load(std::memory_order_relaxed);
}

void HookHandle::remove() {
    if (remove_) std::exchange(remove_, nullptr)();
}

namespace detail {

// Every recorded op pays for each byte of a node (docs/design.md, "What a node holds").
static_assert(sizeof(void*) != 8 || sizeof(Node<float>) <= 128, "a graph node grew past 128 bytes");

template <class T>
Node<T>::Node(const char* op_name, const ArrayShape& value_shape)
    : pending_consumers(0), needed(1), leaf_(0), op(op_name), shape(value_shape),
      sequence(++nodes_recorded_by_this_thread) {
    live_nodes.fetch_add(1, std::memory_order_relaxed);
}

// Dropping the last handle to a long chain would otherwise destroy it recursively, one
// stack frame per node. Inputs that this node alone keeps alive are unlinked onto a local
// stack first, so each destructor runs with no inputs left to recurse into.
template <class T> Node<T>::~Node() {
    std::vector<NodePtr<T>> orphans;
    auto adopt = [&orphans](Node& node) {
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            // Taking each slot out first makes an input held twice (x * x) count once here.
            NodePtr<T> input = std::move(node.inputs[i]);
            if (input && input->ref_count() == 1) orphans.push_back(std::move(input));
        }
    };
    adopt(*this);
    while (!orphans.empty()) {
        NodePtr<T> orphan = std::move(orphans.back());
        orphans.pop_back();
        adopt(*orphan);
    }
    live_nodes.fetch_sub(1, std::memory_order_relaxed);
}

template <class T> bool Node<T>::has_output_adjoint() const {
    for (const Adjoint<T>& a : extras_->output_adjoints)
        if (a) return true;
    return false;
}

template <class T> void Node<T>::reset_output_adjoints() {
    for (Adjoint<T>& a : extras_->output_adjoints) a.reset();
}

template <class T>
OutputNode<T>::OutputNode(Node<T>& op_node, std::size_t output_index)
    : Node<T>(op_node.op, op_node.output_shape(output_index).unpacked()), index(output_index) {
    this->inputs.resize(1);
    this->inputs[0] = NodePtr<T>(&op_node);
}

template <class T> void OutputNode<T>::backward(ArrayGradients<T>& d) {
    d.add_to_output(0, index, static_cast<const Array<T>&>(*this->adjoint.value));
}

template <class T> void OutputNode<T>::backward(TensorGradients<T>& d) {
    d.add_to_output(0, index, this->adjoint.tensor());
}

template <class T> TensorMeta<T>::TensorMeta(Node<T>& owner_node) : node(&owner_node) {
    owner_node.extras().meta = this;
}

template <class T> TensorMeta<T>::~TensorMeta() {
    node->extras().meta = nullptr;
}

template <class T> [[noreturn]] void throw_released(const Node<T>& node) {
    throw GraphError(fmt::format(
        "backward: the graph through '{}' (output shape {}) was already freed by an earlier "
        "backward; pass retain_graph = true to the first call to backward twice",
        node.op, format_shape(node.shape.unpacked())));
}

template <class T> [[noreturn]] void throw_not_differentiable(const Node<T>& node) {
    throw GraphError(fmt::format(
        "backward with create_graph: the backward of '{}' (op #{} on its thread's tape) is "
        "written on arrays only and cannot be differentiated again; write it in tensor ops "
        "(docs/custom-ops.md)",
        node.op, node.sequence));
}

template <class T>
[[noreturn]] void throw_version_changed(const Node<T>& node, const Saved<T>& saved,
                                        std::size_t position) {
    const char* role = saved.role == Saved<T>::Role::input    ? "input"
                       : saved.role == Saved<T>::Role::output ? "output"
                                                              : "tensor";
    throw GraphError(fmt::format(
        "backward: '{}' (op #{} on its thread's tape) saved value {} (its {} {}, shape {}) at "
        "version {}, but it has been written to since and is at version {} now; compute on a "
        "copy, or write after backward",
        node.op, node.sequence, position, role, saved.index, format_shape(saved.value->shape()),
        saved.version, saved.value->version));
}

template <class T> const Array<T>& nothing_saved_array() {
    static const Array<T> nothing = Array<T>::from_shape({0});
    return nothing;
}

template <class T> Tensor<T> ClosureArguments<T, Tensor<T>>::unpack(const Saved<T>& saved) const {
    using Role = typename Saved<T>::Role;
    switch (saved.role) {
    case Role::none:
        return Tensor<T>(make_pooled<Value<T>>(nothing_saved_array<T>()));
    case Role::input:
        return Tensor<T>(saved.value, node_.inputs[saved.index]);
    case Role::output:
        if (node_.output_count() == 1) return Tensor<T>(saved.value, NodePtr<T>(&node_));
        // An output of a multi-output op reaches this node through a selector; a fresh one
        // serves as well as the one handed out by the forward pass.
        return Tensor<T>(saved.value, NodePtr<T>(Pooled<OutputNode<T>>::make(node_, saved.index)));
    case Role::other:
        break;
    }
    return Tensor<T>(saved.value, saved.history);
}

} // namespace detail

template <class T, class G>
void Gradients<T, G>::accumulate_tensor(std::size_t i, detail::Adjoint<T>& target,
                                        detail::ShapeView shape, const Tensor<T>& gradient) {
    const detail::ArrayShape& from = gradient.value_ptr()->shape();
    Tensor<T> fitted = gradient;
    if (!shape.equals(from)) {
        const detail::ArrayShape to = shape.unpacked();
        if (!detail::broadcasts_to(to, from)) throw_shape_mismatch(i, from, to);
        fitted = sum_to_shape(gradient, Shape(to.begin(), to.end()));
    }
    if (target) fitted = target.tensor() + fitted;
    target.value = fitted.value_ptr();
    target.history = fitted.node_ptr();
}

template <class T, class G> void Gradients<T, G>::throw_not_wanted(std::size_t i) const {
    throw GraphError(
        fmt::format("backward of '{}': a gradient for input {}, which needs none (or is out of "
                    "range for the op's {} inputs); test d.wants(i) first",
                    node_.op, i, node_.inputs.size()));
}

template <class T, class G>
void Gradients<T, G>::throw_shape_mismatch(std::size_t i, const detail::ArrayShape& gradient,
                                           const detail::ArrayShape& shape) const {
    throw ShapeError(fmt::format("backward of '{}': a gradient of shape {} for input {} of shape "
                                 "{}, which it does not broadcast from",
                                 node_.op, detail::format_shape(gradient), i,
                                 detail::format_shape(shape)));
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template class detail::Node<T>;                                                                \
    template class detail::OutputNode<T>;                                                          \
    template struct detail::TensorMeta<T>;                                                         \
    template void detail::throw_released(const detail::Node<T>&);                                  \
    template void detail::throw_not_differentiable(const detail::Node<T>&);                        \
    template void detail::throw_version_changed(const detail::Node<T>&, const detail::Saved<T>&,   \
                                                std::size_t);                                      \
    template const Array<T>& detail::nothing_saved_array();                                        \
    template struct detail::ClosureArguments<T, Tensor<T>>;                                        \
    template class Gradients<T, Array<T>>;                                                         \
    template class Gradients<T, Tensor<T>>;
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
