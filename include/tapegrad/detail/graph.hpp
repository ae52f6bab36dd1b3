#pragma once
// The recorded graph: nodes, their inputs and adjoints, and what a tensor keeps of its own
// gradient. docs/design.md describes the graph, the sweep and who owns what. Ops are written
// with tapegrad/function.hpp, which builds on this header.

#include "tapegrad/detail/ref.hpp"
#include "tapegrad/detail/shape.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/xtensor.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tapegrad {

template <class T, class G> class Gradients;
/// What a backward closure written on arrays writes to (the fast first-order path).
template <class T> using ArrayGradients = Gradients<T, Array<T>>;
/// What a backward closure written in tensor ops writes to; its ops are recorded when the
/// backward creates a graph.
template <class T> using TensorGradients = Gradients<T, Tensor<T>>;

namespace detail {

template <class T> using NodePtr = Ref<Node<T>>;

/// The gradient of the loss with respect to one output of a node, built up during a sweep.
template <class T> struct Adjoint {
    std::shared_ptr<Value<T>> value;
    NodePtr<T> history; // how `value` was computed, in sweeps that create a graph

    explicit operator bool() const { return value != nullptr; }
    void reset() {
        value.reset();
        history.reset();
    }
    Tensor<T> tensor() const { return Tensor<T>(value, history); }
};

/// A tensor kept for backward: its value, the version the value had, and how to give it a
/// history again in a backward that creates a graph.
template <class T> struct Saved {
    enum class Role : std::uint8_t { none, input, output, other };
    std::shared_ptr<Value<T>> value;
    std::uint64_t version = 0;
    Role role = Role::none;
    std::uint32_t index = 0; // input or output position
    NodePtr<T> history;      // Role::other: the node that made it
};

/// Hooks registered on a tensor; shared with the handles that can remove them.
template <class T> struct Hooks {
    std::uint64_t next_id = 0;
    std::vector<std::pair<std::uint64_t, std::function<Tensor<T>(const Tensor<T>&)>>> on_gradient;
    std::vector<std::pair<std::uint64_t, std::function<void(Tensor<T>&)>>> after_accumulation;
};

/// What few nodes need, kept out of the common node to keep it small.
template <class T> struct NodeExtras {
    std::shared_ptr<Hooks<T>> hooks;
    /// Where backward keeps this node's gradient for users (a leaf, a retain_grad() tensor);
    /// set and cleared by the TensorMeta itself.
    TensorMeta<T>* meta = nullptr;
    /// An op with several outputs: each output's shape and adjoint.
    std::vector<ArrayShape> output_shapes;
    std::vector<Adjoint<T>> output_adjoints;
    /// "(3, 4) and (4,)": the inputs' shapes, for messages in anomaly mode.
    std::string input_shapes;
};

/// The nodes of an op's tensor inputs, in argument order; null where an input needs no
/// gradient. Up to two live inside the node (most ops have one or two inputs), the rest in
/// a block from the cache.
template <class T> class InputList {
public:
    InputList() = default;
    InputList(const InputList&) = delete;
    InputList& operator=(const InputList&) = delete;
    ~InputList() { release_spilled(); }

    void resize(std::size_t count) {
        release_spilled();
        if (count > local_size) {
            const std::size_t extra = count - local_size;
            spilled_ = static_cast<NodePtr<T>*>(pooled_allocate(extra * sizeof(NodePtr<T>)));
            std::uninitialized_value_construct_n(spilled_, extra); // nulls: cannot throw
        }
        size_ = static_cast<std::uint32_t>(count);
    }
    std::size_t size() const { return size_; }
    NodePtr<T>& operator[](std::size_t i) {
        return i < local_size ? local_[i] : spilled_[i - local_size];
    }
    const NodePtr<T>& operator[](std::size_t i) const {
        return i < local_size ? local_[i] : spilled_[i - local_size];
    }

private:
    void release_spilled() noexcept {
        if (!spilled_) return;
        const std::size_t extra = size_ - local_size;
        std::destroy_n(spilled_, extra);
        pooled_deallocate(spilled_, extra * sizeof(NodePtr<T>));
        spilled_ = nullptr;
    }

    static constexpr std::size_t local_size = 2;
    NodePtr<T> local_[local_size];
    NodePtr<T>* spilled_ = nullptr;
    std::uint32_t size_ = 0;
};

/// A node's shape in 24 bytes (ArrayShape takes 64): up to two extents inside, more in a
/// block from the cache. Every node keeps one, and graphs of many small ops are mostly
/// scalars, vectors and matrices.
class PackedShape {
public:
    explicit PackedShape(const ArrayShape& shape)
        : rank_(static_cast<std::uint32_t>(shape.size())) {
        std::size_t* extents = local_;
        if (rank_ > local_size)
            extents = heap_ =
                static_cast<std::size_t*>(pooled_allocate(rank_ * sizeof(std::size_t)));
        std::copy(shape.begin(), shape.end(), extents);
    }
    ~PackedShape() {
        if (rank_ > local_size) pooled_deallocate(heap_, rank_ * sizeof(std::size_t));
    }
    PackedShape(const PackedShape&) = delete;
    PackedShape& operator=(const PackedShape&) = delete;

    ShapeView view() const { return {rank_ > local_size ? heap_ : local_, rank_}; }
    ArrayShape unpacked() const { return view().unpacked(); }

private:
    static constexpr std::size_t local_size = 2;
    union {
        std::size_t local_[local_size];
        std::size_t* heap_;
    };
    std::uint32_t rank_;
};

/// A recorded op's output, a leaf, or the selector of one output of an op with several.
template <class T> class Node : public RefCounted {
public:
    Node(const char* op_name, const ArrayShape& value_shape);
    ~Node() override;

    // Scratch state of the backward sweep (src/engine/backward.cpp). Declared first, so
    // that it fills the four bytes RefCounted leaves free after its count; 2^30 consumers
    // of one node would take a graph of over 100 GB.
    std::uint32_t pending_consumers : 30;
    std::uint32_t needed : 1; // leads to an input that tapegrad::grad asked for

protected:
    std::uint32_t leaf_ : 1;

public:
    /// The inputs' gradients from this node's adjoint, on arrays (first order).
    virtual void backward(ArrayGradients<T>& gradients) = 0;
    /// The same in tensor ops, recorded when the sweep creates a graph.
    virtual void backward(TensorGradients<T>& gradients) = 0;
    /// Drops what backward needs (saved values); a later backward through it throws.
    virtual void release() {}
    virtual bool released() const { return false; }
    /// The values kept for backward (empty once released), for graph export.
    virtual std::vector<const Saved<T>*> saved_values() const { return {}; }
    bool is_leaf() const { return leaf_; }

    std::size_t output_count() const {
        return extras_ ? std::max<std::size_t>(extras_->output_shapes.size(), 1) : 1;
    }
    ShapeView output_shape(std::size_t k) const {
        if (k == 0 && (!extras_ || extras_->output_shapes.empty())) return shape.view();
        return extras_->output_shapes[k];
    }
    Adjoint<T>& output_adjoint(std::size_t k) {
        return k == 0 && (!extras_ || extras_->output_adjoints.empty())
                   ? adjoint
                   : extras_->output_adjoints[k];
    }
    bool has_adjoint() const {
        return several_outputs() ? has_output_adjoint() : static_cast<bool>(adjoint);
    }
    void reset_adjoints() {
        adjoint.reset();
        if (several_outputs()) reset_output_adjoints();
    }

    NodeExtras<T>& extras() {
        if (!extras_) extras_ = std::make_unique<NodeExtras<T>>();
        return *extras_;
    }
    NodeExtras<T>* extras_if_any() const { return extras_.get(); }

    const char* op;    // "matmul", "leaf", ...: names the node in messages
    PackedShape shape; // of the value this node produced (of output 0)
    InputList<T> inputs;
    Adjoint<T> adjoint; // dLoss/dValue: filled and dropped within one backward sweep

    /// Position on this thread's tape: the n-th node recorded by the thread (1-based).
    std::uint64_t sequence;
    /// The last sweep that reached this node (src/engine/backward.cpp).
    std::uint64_t sweep_id = 0;

private:
    bool several_outputs() const { return extras_ && !extras_->output_adjoints.empty(); }
    bool has_output_adjoint() const;
    void reset_output_adjoints();

    std::unique_ptr<NodeExtras<T>> extras_;
};

/// Allocates a node of type N from the block cache; destroy() gives the block back.
template <class N> class Pooled final : public N {
public:
    using N::N;
    template <class... Args> static N* make(Args&&... args) {
        void* block = pooled_allocate(sizeof(Pooled));
        try {
            return new (block) Pooled(std::forward<Args>(args)...);
        } catch (...) {
            pooled_deallocate(block, sizeof(Pooled));
            throw;
        }
    }

private:
    void destroy() const noexcept override {
        auto* self = const_cast<Pooled*>(this);
        self->~Pooled();
        pooled_deallocate(self, sizeof(Pooled));
    }
};

/// A tensor made directly that requires a gradient (a parameter). Its gradient is kept by
/// the tensor handles (TensorMeta), not here, so that a gradient whose own history reaches
/// back to this leaf forms no cycle.
template <class T> class LeafNode : public Node<T> {
public:
    explicit LeafNode(const ArrayShape& leaf_shape) : Node<T>("leaf", leaf_shape) {
        this->leaf_ = true;
    }
    void backward(ArrayGradients<T>&) override {}
    void backward(TensorGradients<T>&) override {}
};

/// Output k of an op with several outputs: hands its adjoint to that op's node (input 0).
template <class T> class OutputNode : public Node<T> {
public:
    OutputNode(Node<T>& op_node, std::size_t output_index);
    void backward(ArrayGradients<T>& gradients) override;
    void backward(TensorGradients<T>& gradients) override;

    std::size_t index;
};

/// What a tensor handle keeps beyond its value and node: the gradient that backward
/// accumulates for it (a leaf's, or a retain_grad() tensor's). Shared by the handle's
/// copies and pointed to, without ownership, by the node (NodeExtras::meta). It holds its
/// node so that it can unregister itself whatever order a handle drops the two in.
template <class T> struct TensorMeta : RefCounted {
    explicit TensorMeta(Node<T>& owner_node);
    ~TensorMeta() override;

    NodePtr<T> node;
    std::weak_ptr<Value<T>> value; // the tensor's value, for post-accumulate hooks
    Tensor<T> grad;
    bool has_grad = false;
    bool retains_grad = false;
};

} // namespace detail
} // namespace tapegrad
