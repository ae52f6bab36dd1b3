#pragma once
// Tensors to and from xtensor arrays. Including this header pulls in xtensor; the rest of
// tapegrad's public headers do not.

#include "tapegrad/memory.hpp"
#include "tapegrad/tensor.hpp"

#include <xtensor/xarray.hpp>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace tapegrad {

/// The arrays behind tensors: xtensor arrays whose buffers come from tapegrad's block cache.
template <class T>
using Array = xt::xarray<T, xt::layout_type::row_major, detail::PooledAllocator<T>>;

namespace detail {

/// A tensor's array and its version: the number of writes since it was made, which a
/// backward compares with the version a recorded op saved. A distinct type so that
/// tensor.hpp can name it without xtensor.
template <class T> struct Value : Array<T> {
    explicit Value(Array<T>&& array) : Array<T>(std::move(array)) {}
    explicit Value(const Array<T>& array) : Array<T>(array) {}
    /// Evaluates an expression straight into the value, with no temporary array.
    template <class E>
    explicit Value(const xt::xexpression<E>& expression) : Array<T>(expression) {}
    using Array<T>::operator=;

    std::uint64_t version = 0;
};

/// std::make_shared with the block cache.
template <class T, class... Args> std::shared_ptr<T> make_pooled(Args&&... args) {
    return std::allocate_shared<T>(PooledAllocator<T>(), std::forward<Args>(args)...);
}

} // namespace detail

/// A tensor that takes over `array`.
template <class T> Tensor<T> from_xtensor(Array<T>&& array, bool requires_grad = false) {
    Tensor<T> tensor(detail::make_pooled<detail::Value<T>>(std::move(array)));
    if (requires_grad) tensor.set_requires_grad();
    return tensor;
}

/// A tensor holding a copy of any xtensor expression (an xt::xarray<double>, a view, ...),
/// its element type that of the expression unless given: from_xtensor(xt::xarray<double>{1,
/// 2}), from_xtensor<float>(xt::ones<double>({2, 3})).
template <class T = void, class E>
auto from_xtensor(const xt::xexpression<E>& expression, bool requires_grad = false) {
    using Element = std::conditional_t<std::is_void_v<T>, typename E::value_type, T>;
    static_assert(std::is_same_v<Element, float> || std::is_same_v<Element, double>,
                  "tapegrad tensors hold float or double");
    Tensor<Element> tensor(detail::make_pooled<detail::Value<Element>>(expression));
    if (requires_grad) tensor.set_requires_grad();
    return tensor;
}

/// The tensor's array, without a copy.
template <class T> const Array<T>& as_xtensor(const Tensor<T>& tensor) {
    return *tensor.value_ptr();
}

} // namespace tapegrad
