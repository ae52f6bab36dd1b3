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

/// Work lists reused across sweeps on a thread, so a steady training loop allocates none.
template <class T> struct SweepLists {
    std::vector<Node<T>*> stack, ready, reached;
    static SweepLists& for_this_thread() {
        thread_local SweepLists lists;
        lists.stack.clear();
        lists.ready.clear();
        lists.reached.clear();
        return lists;
    }
};

/// Marks every node reachable from `root` with this sweep's id, lists it in `reached` and
/// counts, for each, the edges from its consumers among them. Throws before anything is
/// changed if one was released by an earlier sweep.
template <class T> void count_consumers(Node<T>& root, std::uint64_t sweep, SweepLists<T>& lists) {
    root.sweep_id = sweep;
    root.pending_consumers = 0;
    lists.stack.push_back(&root);
    while (!lists.stack.empty()) {
        Node<T>& node = *lists.stack.back();
        lists.stack.pop_back();
        lists.reached.push_back(&node);
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
                lists.stack.push_back(input);
            }
            ++input->pending_consumers;
        }
    }
}

/// Runs the closures from the root down, in an order where every consumer comes first.
template <class T> void propagate(Node<T>& root, bool retain_graph, SweepLists<T>& lists) {
    lists.ready.push_back(&root);
    while (!lists.ready.empty()) {
        Node<T>& node = *lists.ready.back();
        lists.ready.pop_back();
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
            if (input && --input->pending_consumers == 0) lists.ready.push_back(input);
        }
    }
}

} // namespace

template <class T>
void run_backward(Node<T>& root, const std::shared_ptr<Value<T>>& seed, bool retain_graph) {
    SweepLists<T>& lists = SweepLists<T>::for_this_thread();
    count_consumers(root, next_sweep_id(), lists);

    // A leaf's adjoint is its gradient and is written to later: it gets its own copy.
    if (root.adjoint) {
        xt::noalias(writable_adjoint(root)) += static_cast<const Array<T>&>(*seed);
    } else {
        root.adjoint =
            root.is_leaf() ? make_pooled<Value<T>>(static_cast<const Array<T>&>(*seed)) : seed;
    }

    try {
        propagate(root, retain_graph, lists);
    } catch (...) {
        // A closure or an anomaly check threw: drop the partial adjoints of interior nodes
        // so that a later backward through a retained graph starts clean. (What already
        // reached leaves stays there.)
        for (Node<T>* node : lists.reached) {
            if (!node->is_leaf()) node->adjoint.reset();
        }
        throw;
    }
}

template void run_backward(Node<float>&, const std::shared_ptr<Value<float>>&, bool);
template void run_backward(Node<double>&, const std::shared_ptr<Value<double>>&, bool);

} // namespace tapegrad::detail
