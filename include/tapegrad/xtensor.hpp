#pragma once
// Tensors to and from xtensor arrays. Including this header pulls in xtensor; the rest of
// tapegrad's public headers do not.

#include "tapegrad/memory.hpp"
#include "tapegrad/tensor.hpp"

#include <xtensor/xarray.hpp>

#include <memory>
#include <utility>

namespace tapegrad {

/// The arrays behind tensors: xtensor arrays whose buffers come from tapegrad's block cache.
template <class T>
using Array = xt::xarray<T, xt::layout_type::row_major, detail::PooledAllocator<T>>;

namespace detail {

/// A tensor's array. A distinct type so that tensor.hpp can name it without xtensor.
template <class T> struct Value : Array<T> {
    explicit Value(Array<T>&& array) : Array<T>(std::move(array)) {}
    explicit Value(const Array<T>& array) : Array<T>(array) {}
    /// Evaluates an expression straight into the value, with no temporary array.
    template <class E>
    explicit Value(const xt::xexpression<E>& expression) : Array<T>(expression) {}
    using Array<T>::operator=;
};

/// std::make_shared with the block cache.
template <class T, class... Args> std::shared_ptr<T> make_pooled(Args&&... args) {
    return std::allocate_shared<T>(PooledAllocator<T>(), std::forward<Args>(args)...);
}

} // namespace detail

/// A tensor that takes over `array`.
template <class T> Tensor<T> from_xtensor(Array<T> array, bool requires_grad = false) {
    Tensor<T> tensor(detail::make_pooled<detail::Value<T>>(std::move(array)));
    if (requires_grad) tensor.set_requires_grad();
    return tensor;
}

/// A tensor holding a copy of any xtensor expression of element type T (an xt::xarray, a
/// view, ...): from_xtensor<float>(xt::ones<float>({2, 3})).
template <class T, class E>
Tensor<T> from_xtensor(const xt::xexpression<E>& expression, bool requires_grad = false) {
    return from_xtensor(Array<T>(expression), requires_grad);
}

/// The tensor's array, without a copy.
template <class T> const Array<T>& as_xtensor(const Tensor<T>& tensor) {
    return *tensor.value_ptr();
}

} // namespace tapegrad
