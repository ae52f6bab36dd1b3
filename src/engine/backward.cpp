// The backward sweep: order the nodes the root depends on so that each runs after every
// node that consumes it (Kahn's algorithm over consumer counts), then run their closures.
// Iterative throughout, so graph depth never touches the call stack.

#include "engine/backward.hpp"

#include "engine/anomaly.hpp"
#include "tapegrad/grad_mode.hpp"

#include <fmt/format.h>

#include <atomic>
#include <vector>

namespace tapegrad::detail {

namespace {

std::uint64_t next_sweep_id() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

/// Marks every node reachable from `root` with this sweep's id and counts, for each, the
/// edges from its consumers among them. Throws before anything is changed if one was
/// released by an earlier sweep.
/// Work lists reused across sweeps on a thread, so a steady training loop allocates none.
template <class T> std::vector<Node<T>*>& scratch_list() {
    thread_local std::vector<Node<T>*> list;
    list.clear();
    return list;
}

template <class T> void count_consumers(Node<T>& root, std::uint64_t sweep) {
    root.sweep_id = sweep;
    root.pending_consumers = 0;
    std::vector<Node<T>*>& stack = scratch_list<T>();
    stack.push_back(&root);
    while (!stack.empty()) {
        Node<T>& node = *stack.back();
        stack.pop_back();
        if (node.released()) {
            throw GraphError(fmt::format(
                "backward: the graph through '{}' (output shape {}) was already freed by an "
                "earlier backward; pass retain_graph = true to the first call to backward twice",
                node.op, format_shape(node.shape)));
        }
        for (std::size_t i = 0; i < node.input_count; ++i) {
            Node<T>* input = node.inputs[i].get();
            if (!input) continue;
            if (input->sweep_id != sweep) {
                input->sweep_id = sweep;
                input->pending_consumers = 0;
                stack.push_back(input);
            }
            ++input->pending_consumers;
        }
    }
}

} // namespace

template <class T>
void run_backward(Node<T>& root, const std::shared_ptr<Value<T>>& seed, bool retain_graph) {
    const std::uint64_t sweep = next_sweep_id();
    count_consumers(root, sweep);

    // A leaf's adjoint is its gradient and is written to later: it gets its own copy.
    if (root.adjoint) {
        Array<T>& adjoint = *root.adjoint;
        xt::noalias(adjoint) += static_cast<const Array<T>&>(*seed);
    } else {
        root.adjoint =
            root.is_leaf() ? make_pooled<Value<T>>(static_cast<const Array<T>&>(*seed)) : seed;
    }

    std::vector<Node<T>*>& ready = scratch_list<T>();
    ready.push_back(&root);
    while (!ready.empty()) {
        Node<T>& node = *ready.back();
        ready.pop_back();
        if (node.is_leaf()) continue; // its adjoint is the gradient the user reads
        if (node.adjoint) {
            InputGrads<T> input_grads(node);
            node.backward(*node.adjoint, input_grads);
            if (anomaly_detection_enabled()) check_input_gradients(node);
        }
        node.adjoint.reset();
        if (!retain_graph) node.release();
        for (std::size_t i = 0; i < node.input_count; ++i) {
            Node<T>* input = node.inputs[i].get();
            if (input && --input->pending_consumers == 0) ready.push_back(input);
        }
    }
}

template void run_backward(Node<float>&, const std::shared_ptr<Value<float>>&, bool);
template void run_backward(Node<double>&, const std::shared_ptr<Value<double>>&, bool);

} // namespace tapegrad::detail
