#include "engine/node.hpp"

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

namespace detail {

template <class T>
Node<T>::Node(const char* op_name, ArrayShape value_shape)
    : op(op_name), shape(std::move(value_shape)), sequence(++nodes_recorded_by_this_thread) {
    live_nodes.fetch_add(1, std::memory_order_relaxed);
}

// Dropping the last handle to a long chain would otherwise destroy it recursively, one
// stack frame per node. Inputs that this node alone keeps alive are unlinked onto a local
// stack first, so each destructor runs with no inputs left to recurse into.
template <class T> Node<T>::~Node() {
    std::vector<std::shared_ptr<Node>> orphans;
    auto adopt = [&orphans](Node& node) {
        for (std::size_t i = 0; i < node.input_count; ++i) {
            // Taking each slot out first makes an input held twice (x * x) count once here.
            std::shared_ptr<Node> input = std::move(node.inputs[i]);
            if (input && input.use_count() == 1) orphans.push_back(std::move(input));
        }
    };
    adopt(*this);
    while (!orphans.empty()) {
        std::shared_ptr<Node> orphan = std::move(orphans.back());
        orphans.pop_back();
        adopt(*orphan);
    }
    live_nodes.fetch_sub(1, std::memory_order_relaxed);
}

template class Node<float>;
template class Node<double>;

} // namespace detail
} // namespace tapegrad
