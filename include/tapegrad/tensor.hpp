#pragma once
// Tensor<T>: a handle to an n-dimensional array of T (float or double) and, when it takes
// part in differentiation, to the graph node that produced it. Copies share both, like
// PyTorch tensors. This header keeps xtensor out of user code; tapegrad/xtensor.hpp gives
// the array itself.

#include "tapegrad/memory.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tapegrad {

using Shape = std::vector<std::size_t>;

namespace detail {
template <class T> struct Value; // the array, an xt::xarray<T> (tapegrad/xtensor.hpp)
template <class T> class Node;   // a recorded op or a leaf (src/engine/node.hpp)
} // namespace detail

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
    /// Writable elements, for in-place updates under no_grad (optimizers). Writing into a
    /// value that a recorded graph saved changes what that graph's backward computes.
    T* data();
    std::vector<T> to_vector() const;
    /// The value of a one-element tensor; throws ValueError otherwise.
    T item() const;

    bool requires_grad() const;
    /// Makes this leaf a parameter (or a constant again); throws GraphError on a non-leaf.
    Tensor& set_requires_grad(bool requires = true);
    /// True for tensors made directly rather than by a recorded op.
    bool is_leaf() const;

    /// The gradient accumulated into this leaf by backward(), with the leaf's shape. Once a
    /// backward has reached the leaf it shares memory with the accumulator (like PyTorch's
    /// .grad); before that it is a fresh tensor of zeros.
    Tensor grad() const;
    bool has_grad() const;
    /// Drops the accumulated gradient, as PyTorch's zero_grad(set_to_none=True): grad()
    /// reads zeros again and the next backward writes a fresh gradient instead of adding
    /// to zeros. The buffer returns to the block cache, so the next step reuses it.
    void zero_grad();
    /// The same value, cut off from the graph.
    Tensor detach() const;

    /// Backpropagates from this one-element tensor (seed 1).
    void backward(bool retain_graph = false);
    /// Backpropagates `seed`, of this tensor's shape, from this tensor.
    void backward(const Tensor& seed, bool retain_graph = false);

    // The engine's view of the handle.
    explicit Tensor(std::shared_ptr<detail::Value<T>> value,
                    std::shared_ptr<detail::Node<T>> node = nullptr);
    const std::shared_ptr<detail::Value<T>>& value_ptr() const { return value_; }
    const std::shared_ptr<detail::Node<T>>& node_ptr() const { return node_; }

private:
    std::shared_ptr<detail::Value<T>> value_;
    std::shared_ptr<detail::Node<T>> node_; // null: no gradient flows through this tensor
};

extern template class Tensor<float>;
extern template class Tensor<double>;

} // namespace tapegrad
