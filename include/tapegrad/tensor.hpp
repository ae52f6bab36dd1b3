#pragma once
// Tensor<T>: a handle to an n-dimensional array of T (float or double) and, when it takes
// part in differentiation, to the graph node that produced it. Copies share both, like
// PyTorch tensors. This header keeps xtensor out of user code; tapegrad/xtensor.hpp gives
// the array itself and tapegrad/function.hpp the graph, for writing ops.

#include "tapegrad/detail/ref.hpp"
#include "tapegrad/memory.hpp"
#include "tapegrad/sizes.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/core.h>

namespace tapegrad {

namespace detail {
template <class T> struct Value;      // the array and its version (tapegrad/xtensor.hpp)
template <class T> class Node;        // a recorded op or a leaf (tapegrad/detail/graph.hpp)
template <class T> struct TensorMeta; // a tensor's own gradient (tapegrad/detail/graph.hpp)
} // namespace detail

/// How backward() runs. create_graph records the backward pass itself, so the gradients it
/// produces can be differentiated again; it keeps the graph (as retain_graph does).
struct BackwardOptions {
    bool retain_graph = false;
    bool create_graph = false;
};

/// Returned by register_hook: remove() takes the hook off again (idempotent).
class HookHandle {
public:
    HookHandle() = default;
    explicit HookHandle(std::function<void()> remove) : remove_(std::move(remove)) {}
    void remove();

private:
    std::function<void()> remove_;
};

template <class T> class Tensor {
public:
    /// A one-element tensor of rank 0 holding 0.
    Tensor();
    /// A tensor of `shape` with `values` in row-major order (sizes must agree).
    Tensor(Shape shape, std::vector<T> values, bool requires_grad = false);

    static Tensor zeros(const Shape& shape, bool requires_grad = false);
    static Tensor ones(const Shape& shape, bool requires_grad = false);
    static Tensor full(const Shape& shape, T value, bool requires_grad = false);
    /// A rank-0 tensor.
    static Tensor scalar(T value, bool requires_grad = false);

    Shape shape() const;
    std::size_t rank() const;
    std::size_t size() const;

    const T* data() const;
    /// Writable elements, for updates outside the graph (optimizers, initialisation). Each
    /// call counts as a write: a recorded op that saved this value for its backward throws
    /// GraphError in that backward instead of computing a wrong gradient.
    T* mutable_data();
    /// How many times the value was written since it was made (mutable_data, in-place ops).
    std::uint64_t version() const;
    std::vector<T> to_vector() const;
    /// The value of a one-element tensor; throws ValueError otherwise.
    T item() const;
    /// The element at a multi-index, one entry per axis; throws IndexError when out of range.
    T at(const Shape& index) const;

    /// A copy with elements of type U. Recorded: the gradient flows back converted to T.
    template <class U> Tensor<U> to() const;

    bool requires_grad() const;
    /// Makes this leaf a parameter (or a constant again); throws GraphError on a non-leaf.
    Tensor& set_requires_grad(bool requires = true);
    /// True for tensors made directly rather than by a recorded op.
    bool is_leaf() const;

    /// The gradient accumulated into this leaf (or this retain_grad() tensor) by backward(),
    /// with its shape; it shares memory with the accumulator, like PyTorch's .grad. Before a
    /// backward reached it, a fresh tensor of zeros. After a create_graph backward it has a
    /// history of its own and can be differentiated.
    Tensor grad() const;
    bool has_grad() const;
    /// Replaces the accumulated gradient with `gradient` (of this tensor's shape), as
    /// assigning PyTorch's .grad does; the next backward adds to it.
    Tensor& set_grad(const Tensor& gradient);
    /// Drops the accumulated gradient, as PyTorch's zero_grad(set_to_none=True): grad()
    /// reads zeros again and the next backward writes a fresh gradient instead of adding
    /// to zeros. The buffer returns to the block cache, so the next step reuses it.
    void zero_grad();
    /// Makes backward() keep this non-leaf tensor's gradient in grad() (leaves always do).
    Tensor& retain_grad();
    bool retains_grad() const;
    /// The same value, cut off from the graph.
    Tensor detach() const;

    /// Backpropagates from this one-element tensor (seed 1).
    void backward(bool retain_graph = false) const;
    void backward(const BackwardOptions& options) const;
    /// Backpropagates `seed`, of this tensor's shape, from this tensor.
    void backward(const Tensor& seed, bool retain_graph = false) const;
    void backward(const Tensor& seed, const BackwardOptions& options) const;

    /// Calls `hook(gradient)` whenever backward computes the gradient flowing into this
    /// tensor, before it is passed on or accumulated. A hook returning a Tensor (of this
    /// tensor's shape) replaces the gradient; one returning void only looks at it.
    template <class Hook> HookHandle register_hook(Hook hook) {
        if constexpr (std::is_void_v<std::invoke_result_t<Hook&, const Tensor&>>) {
            return add_hook([hook = std::move(hook)](const Tensor& g) mutable {
                hook(g);
                return g;
            });
        } else {
            return add_hook(std::move(hook));
        }
    }
    /// Calls `hook(leaf)` once per backward, when this leaf's gradient for that backward
    /// has been accumulated into grad() (data-parallel training starts communication here).
    HookHandle register_post_accumulate_grad_hook(std::function<void(Tensor&)> hook);

    /// In-place arithmetic: writes into this tensor's value (which other handles share),
    /// `other` broadcast to this shape. Recorded like the out-of-place op when gradients
    /// flow; on a leaf that requires a gradient only under NoGrad (as in PyTorch).
    Tensor& operator+=(const Tensor& other);
    Tensor& operator-=(const Tensor& other);
    Tensor& operator*=(const Tensor& other);
    Tensor& operator/=(const Tensor& other);
    Tensor& operator+=(T s);
    Tensor& operator-=(T s);
    Tensor& operator*=(T s);
    Tensor& operator/=(T s);

    // The engine's view of the handle.
    using ValuePtr = std::shared_ptr<detail::Value<T>>;
    using NodeRef = detail::Ref<detail::Node<T>>;
    using MetaRef = detail::Ref<detail::TensorMeta<T>>;
    explicit Tensor(ValuePtr value, NodeRef node = nullptr, MetaRef meta = nullptr);
    const ValuePtr& value_ptr() const { return value_; }
    const NodeRef& node_ptr() const { return node_; }
    const MetaRef& meta_ptr() const { return meta_; }

private:
    HookHandle add_hook(std::function<Tensor(const Tensor&)> hook);
    template <class Apply>
    Tensor& update_in_place(const char* op, const Tensor& other, Apply apply);

    ValuePtr value_;
    NodeRef node_; // null: no gradient flows through this tensor
    MetaRef meta_; // this handle's gradient and hooks: leaves and retain_grad() tensors
};

extern template class Tensor<float>;
extern template class Tensor<double>;

/// NumPy-like text: "tensor([[1, 2], [3, 4]], requires_grad)"; large tensors show their
/// first and last three entries along each axis.
template <class T> std::string to_string(const Tensor<T>& tensor);
template <class T> std::ostream& operator<<(std::ostream& out, const Tensor<T>& tensor);

} // namespace tapegrad

/// fmt::print("{}", tensor) prints to_string(tensor).
template <class T> struct fmt::formatter<tapegrad::Tensor<T>> {
    constexpr auto parse(fmt::format_parse_context& context) { return context.begin(); }
    auto format(const tapegrad::Tensor<T>& tensor, fmt::format_context& context) const {
        const std::string text = tapegrad::to_string(tensor);
        return std::copy(text.begin(), text.end(), context.out());
    }
};
