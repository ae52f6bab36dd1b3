#pragma once
// A node of the recorded graph: one op's output, its inputs' nodes and its backward
// closure, or a leaf that accumulates a parameter's gradient. docs/design.md describes the
// graph, the sweep and who owns what.

#include "tapegrad/detail/shape.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/xtensor.hpp"

#include <xtensor/xnoalias.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace tapegrad::detail {

template <class T> class InputGrads;

template <class T> class Node {
public:
    static constexpr std::size_t max_inputs = 3;

    Node(const char* op, ArrayShape shape);
    virtual ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Computes the inputs' gradients from this node's adjoint; leaves have none.
    virtual void backward(const Array<T>& output_adjoint, InputGrads<T>& input_grads) = 0;
    /// Drops what backward needs (saved values); a later backward through it throws.
    virtual void release() = 0;
    virtual bool released() const = 0;
    virtual bool is_leaf() const { return false; }

    const char* op;   // "matmul", "leaf", ...: names the node in messages
    ArrayShape shape; // of the value this node produced
    /// Inputs' nodes; null where an input needs no gradient.
    std::array<std::shared_ptr<Node>, max_inputs> inputs{};
    std::size_t input_count = 0;
    /// dLoss/dValue. Interior nodes: filled and dropped within one backward sweep. Leaves:
    /// the accumulated gradient, kept until the user drops the leaf.
    std::shared_ptr<Value<T>> adjoint;

    /// Position on this thread's tape: the n-th node recorded by the thread (1-based).
    std::uint64_t sequence;
    /// "(3, 4) and (4,)": the inputs' shapes, kept for messages in anomaly mode only.
    std::string input_shapes;

    // Scratch state of the backward sweep (engine/backward.cpp).
    std::uint64_t sweep_id = 0;
    std::size_t pending_consumers = 0;
};

/// A parameter or other leaf requiring a gradient.
template <class T> class LeafNode final : public Node<T> {
public:
    explicit LeafNode(ArrayShape leaf_shape) : Node<T>("leaf", std::move(leaf_shape)) {}
    void backward(const Array<T>&, InputGrads<T>&) override {}
    void release() override {}
    bool released() const override { return false; }
    bool is_leaf() const override { return true; }
};

/// An op node whose backward is a closure `void(const Array<T>& dY, InputGrads<T>&)`.
template <class T, class Backward> class OpNode final : public Node<T> {
public:
    OpNode(const char* op_name, ArrayShape value_shape, Backward&& backward)
        : Node<T>(op_name, std::move(value_shape)), backward_(std::move(backward)) {}
    void backward(const Array<T>& output_adjoint, InputGrads<T>& input_grads) override {
        (*backward_)(output_adjoint, input_grads);
    }
    void release() override { backward_.reset(); }
    bool released() const override { return !backward_.has_value(); }

private:
    std::optional<Backward> backward_;
};

/// A node's adjoint for writing in place, made its own first if pass_through left it
/// shared (copy on write). A leaf's is never shared that way: it is the gradient users hold.
template <class T> Array<T>& writable_adjoint(Node<T>& node) {
    if (!node.is_leaf() && node.adjoint.use_count() > 1) {
        node.adjoint = make_pooled<Value<T>>(static_cast<const Array<T>&>(*node.adjoint));
    }
    return *node.adjoint;
}

/// What a backward closure writes to: the gradient of each of its node's inputs.
template <class T> class InputGrads {
public:
    explicit InputGrads(Node<T>& node) : node_(node) {}

    /// Whether input i requires a gradient; closures skip the work for those that do not.
    bool wants(std::size_t i) const { return node_.inputs[i] != nullptr; }

    /// Adds `gradient` (an array or an xtensor expression with the op's output shape, or
    /// the input's own shape) into input i's adjoint, summing broadcast axes away.
    template <class E> void add(std::size_t i, E&& gradient) {
        Node<T>& input = *node_.inputs[i];
        if (same_shape(gradient.shape(), input.shape)) {
            accumulate(input, std::forward<E>(gradient));
        } else {
            accumulate(input, reduce_to_shape<T>(Array<T>(std::forward<E>(gradient)), input.shape));
        }
    }

    /// Input i's gradient is this node's adjoint unchanged (y = x + ...): an interior input
    /// with no adjoint yet shares the buffer instead of copying it.
    void pass_through(std::size_t i) {
        Node<T>& input = *node_.inputs[i];
        if (!input.adjoint && !input.is_leaf() && same_shape(node_.shape, input.shape)) {
            input.adjoint = node_.adjoint;
        } else {
            add(i, static_cast<const Array<T>&>(*node_.adjoint));
        }
    }

    /// Input i's adjoint for kernels that write it in place (BLAS with beta). `fresh` says
    /// the buffer is new and uninitialised, so the kernel must overwrite, not add.
    Array<T>& target(std::size_t i, bool& fresh) {
        Node<T>& input = *node_.inputs[i];
        fresh = !input.adjoint;
        if (fresh) input.adjoint = make_pooled<Value<T>>(empty_array<T>(input.shape));
        return writable_adjoint(input);
    }

    std::size_t input_count() const { return node_.input_count; }

private:
    template <class S> static bool same_shape(const S& a, const ArrayShape& b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
    }

    template <class E> static void accumulate(Node<T>& input, E&& gradient) {
        if (!input.adjoint) {
            input.adjoint = make_pooled<Value<T>>(std::forward<E>(gradient));
        } else {
            xt::noalias(writable_adjoint(input)) += gradient;
        }
    }

    Node<T>& node_;
};

} // namespace tapegrad::detail
