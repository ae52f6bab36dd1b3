#include "engine/backward.hpp"
#include "engine/node.hpp"
#include "ops/record.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tapegrad {

using detail::Value;

template <class T>
Tensor<T>::Tensor(std::shared_ptr<Value<T>> value, std::shared_ptr<detail::Node<T>> node)
    : value_(std::move(value)), node_(std::move(node)) {}

template <class T> Tensor<T>::Tensor() : Tensor(detail::make_pooled<Value<T>>(Array<T>(T(0)))) {}

template <class T> Tensor<T>::Tensor(Shape shape, std::vector<T> values, bool requires_grad) {
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    if (count != values.size()) {
        throw ShapeError(fmt::format("Tensor: shape {} holds {} elements, but {} values were given",
                                     detail::format_shape(shape), count, values.size()));
    }
    Array<T> array = Array<T>::from_shape(shape);
    std::copy(values.begin(), values.end(), array.begin());
    value_ = detail::make_pooled<Value<T>>(std::move(array));
    set_requires_grad(requires_grad);
}

template <class T> Tensor<T> Tensor<T>::full(const Shape& shape, T fill, bool requires_grad) {
    Array<T> array = Array<T>::from_shape(shape);
    array.fill(fill);
    return from_xtensor(std::move(array), requires_grad);
}

template <class T> Tensor<T> Tensor<T>::zeros(const Shape& shape, bool requires_grad) {
    return full(shape, T(0), requires_grad);
}

template <class T> Tensor<T> Tensor<T>::ones(const Shape& shape, bool requires_grad) {
    return full(shape, T(1), requires_grad);
}

template <class T> Tensor<T> Tensor<T>::scalar(T fill, bool requires_grad) {
    return full({}, fill, requires_grad);
}

template <class T> Shape Tensor<T>::shape() const {
    return Shape(value_->shape().begin(), value_->shape().end());
}

template <class T> std::size_t Tensor<T>::rank() const {
    return value_->dimension();
}

template <class T> std::size_t Tensor<T>::size() const {
    return value_->size();
}

template <class T> const T* Tensor<T>::data() const {
    return value_->data();
}

template <class T> T* Tensor<T>::data() {
    return value_->data();
}

template <class T> std::vector<T> Tensor<T>::to_vector() const {
    return std::vector<T>(value_->begin(), value_->end());
}

template <class T> T Tensor<T>::item() const {
    if (size() != 1) {
        throw ValueError(fmt::format("item: the tensor has shape {} ({} elements), not one element",
                                     detail::format_shape(value_->shape()), size()));
    }
    return *data();
}

template <class T> bool Tensor<T>::requires_grad() const {
    return node_ != nullptr;
}

template <class T> bool Tensor<T>::is_leaf() const {
    return !node_ || node_->is_leaf();
}

template <class T> Tensor<T>& Tensor<T>::set_requires_grad(bool requires) {
    if (!is_leaf()) {
        throw GraphError(fmt::format(
            "set_requires_grad: the tensor of shape {} was made by '{}'; only leaves can change "
            "whether they require a gradient (use detach() for a constant copy)",
            detail::format_shape(value_->shape()), node_->op));
    }
    if (!requires)
        node_.reset();
    else if (!node_)
        node_ = detail::make_pooled<detail::LeafNode<T>>(value_->shape());
    return *this;
}

template <class T> bool Tensor<T>::has_grad() const {
    return node_ && node_->adjoint;
}

template <class T> Tensor<T> Tensor<T>::grad() const {
    if (!node_ || !node_->is_leaf()) {
        throw GraphError(fmt::format(
            "grad: gradients are kept for leaves that require them; this tensor of shape {} {}",
            detail::format_shape(value_->shape()),
            node_ ? fmt::format("was made by '{}'", node_->op) : "does not require a gradient"));
    }
    if (!node_->adjoint) return zeros(shape());
    return Tensor(node_->adjoint);
}

template <class T> void Tensor<T>::zero_grad() {
    if (node_ && node_->is_leaf()) node_->adjoint.reset();
}

template <class T> Tensor<T> Tensor<T>::detach() const {
    return Tensor(value_);
}

template <class T> void Tensor<T>::backward(bool retain_graph) {
    if (size() != 1) {
        throw GraphError(fmt::format(
            "backward: the tensor has shape {}; a tensor that is not one element needs a seed "
            "gradient of its shape: backward(seed)",
            detail::format_shape(value_->shape())));
    }
    backward(full(shape(), T(1)), retain_graph);
}

template <class T> void Tensor<T>::backward(const Tensor& seed, bool retain_graph) {
    if (!node_) {
        throw GraphError(fmt::format(
            "backward: the tensor of shape {} does not require a gradient: no input it was "
            "computed from requires one, or it was computed under NoGrad",
            detail::format_shape(value_->shape())));
    }
    if (seed.value_->shape() != value_->shape()) {
        throw ShapeError(fmt::format("backward: seed shape {} does not match the tensor's shape {}",
                                     detail::format_shape(seed.value_->shape()),
                                     detail::format_shape(value_->shape())));
    }
    detail::run_backward(*node_, seed.value_, retain_graph);
}

template class Tensor<float>;
template class Tensor<double>;

} // namespace tapegrad
