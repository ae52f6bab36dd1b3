#pragma once
// Tensors to and from xtensor arrays. Including this header pulls in xtensor; the rest of
// tapegrad's public headers do not.

#include "tapegrad/tensor.hpp"

#include <xtensor/xarray.hpp>

#include <utility>

namespace tapegrad {

template <class T> using Array = xt::xarray<T>;

namespace detail {
/// A tensor's array. A distinct type so that tensor.hpp can name it without xtensor.
template <class T> struct Value : Array<T> {
    explicit Value(Array<T>&& array) : Array<T>(std::move(array)) {}
    explicit Value(const Array<T>& array) : Array<T>(array) {}
    using Array<T>::operator=;
};
} // namespace detail

/// A tensor that takes over `array`.
template <class T> Tensor<T> from_xtensor(Array<T> array, bool requires_grad = false) {
    Tensor<T> tensor(std::make_shared<detail::Value<T>>(std::move(array)));
    if (requires_grad)
        tensor.set_requires_grad();
    return tensor;
}

/// The tensor's array, without a copy.
template <class T> const Array<T>& as_xtensor(const Tensor<T>& tensor) {
    return *tensor.value_ptr();
}

} // namespace tapegrad
