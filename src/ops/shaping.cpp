// Ops that rearrange or repeat elements without arithmetic: the gradient rearranges back
// (transpose, reshape) or sums what was repeated (expand and its adjoint sum_to_shape).

#include "tapegrad/function.hpp"

#include <xtensor/xmanipulation.hpp>

#include <algorithm>
#include <numeric>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays: reshape, expand

namespace {

std::size_t element_count(const Shape& shape) {
    return std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
}

template <class T> Shape shape_of(const Tensor<T>& x) {
    return x.shape();
}

} // namespace

// y = x with its axes permuted     dx = dy with the inverse permutation
template <class T>
Tensor<T> transpose(const Tensor<T>& x, const std::vector<std::size_t>& permutation) {
    const Array<T>& X = as_xtensor(x);
    std::vector<std::size_t> inverse(permutation.size(), X.dimension());
    for (std::size_t k = 0; k < permutation.size(); ++k) {
        if (permutation[k] < inverse.size()) inverse[permutation[k]] = k;
    }
    const bool is_permutation =
        permutation.size() == X.dimension() &&
        std::find(inverse.begin(), inverse.end(), X.dimension()) == inverse.end();
    if (!is_permutation) {
        throw IndexError(
            fmt::format("transpose: ({}) is not a permutation of the axes of a tensor of shape {}",
                        fmt::join(permutation, ", "), format_shape(X.shape())));
    }
    return record("transpose", {x}, from_xtensor(xt::transpose(X, permutation)),
                  [inverse](auto& d, const auto& dY) { d.add(0, transpose(dY, inverse)); });
}

template <class T> Tensor<T> transpose(const Tensor<T>& x) {
    std::vector<std::size_t> reversed(x.rank());
    for (std::size_t k = 0; k < reversed.size(); ++k) reversed[k] = reversed.size() - 1 - k;
    return transpose(x, reversed);
}

// y = x's elements with another shape of the same size     dx = dy with x's shape
template <class T>
Tensor<T> reshape(const Tensor<T>& x, const detail::IntegerList<std::int64_t>& requested) {
    const Array<T>& X = as_xtensor(x);
    Shape shape;
    std::size_t known = 1, inferred = requested.size();
    bool valid = std::count(requested.begin(), requested.end(), -1) <= 1;
    for (std::size_t k = 0; k < requested.size(); ++k) {
        if (requested[k] == -1) {
            inferred = k;
            shape.push_back(0);
        } else {
            valid = valid && requested[k] >= 0;
            shape.push_back(static_cast<std::size_t>(std::max<std::int64_t>(requested[k], 0)));
            known *= shape.back();
        }
    }
    if (valid && inferred < shape.size()) {
        valid = known != 0 && X.size() % known == 0;
        if (valid) shape[inferred] = X.size() / known;
    }
    if (!valid || element_count(shape) != X.size()) {
        const std::string count =
            inferred < shape.size() ? "" : fmt::format(" ({} elements)", known);
        throw ShapeError(fmt::format("reshape: cannot reshape {} ({} elements) into ({}{}){}",
                                     format_shape(X.shape()), X.size(), fmt::join(requested, ", "),
                                     requested.size() == 1 ? "," : "", count));
    }
    Array<T> Y = X;
    Y.reshape(shape);
    return record(
        "reshape", {x}, from_xtensor(std::move(Y)),
        [x_shape = shape_of(x)](auto& d, const auto& dY) { d.add(0, reshape(dY, x_shape)); });
}

template <class T> Tensor<T> flatten(const Tensor<T>& x, int first, int last) {
    const Shape shape = x.shape();
    const std::size_t from =
        normalize_axis("flatten", first, std::max<std::size_t>(shape.size(), 1));
    const std::size_t to = normalize_axis("flatten", last, std::max<std::size_t>(shape.size(), 1));
    if (from > to) {
        throw IndexError(fmt::format("flatten: first axis {} comes after last axis {} in shape {}",
                                     first, last, format_shape(shape)));
    }
    if (shape.empty()) return reshape(x, {1});
    detail::IntegerList<std::int64_t> merged(shape.begin(), shape.begin() + std::ptrdiff_t(from));
    merged.push_back(-1);
    merged.insert(merged.end(), shape.begin() + std::ptrdiff_t(to) + 1, shape.end());
    if (element_count(shape) == 0) merged[from] = 0;
    return reshape(x, merged);
}

template <class T> Tensor<T> squeeze(const Tensor<T>& x, int axis) {
    Shape shape = x.shape();
    const std::size_t k = normalize_axis("squeeze", axis, shape.size());
    if (shape[k] != 1) {
        throw ShapeError(fmt::format("squeeze: axis {} of shape {} has extent {}, not 1", axis,
                                     format_shape(shape), shape[k]));
    }
    shape.erase(shape.begin() + std::ptrdiff_t(k));
    return reshape(x, shape);
}

template <class T> Tensor<T> squeeze(const Tensor<T>& x) {
    Shape shape = x.shape();
    shape.erase(std::remove(shape.begin(), shape.end(), std::size_t(1)), shape.end());
    return reshape(x, shape);
}

template <class T> Tensor<T> unsqueeze(const Tensor<T>& x, int axis) {
    Shape shape = x.shape();
    const std::size_t k = normalize_axis("unsqueeze", axis, shape.size() + 1);
    shape.insert(shape.begin() + std::ptrdiff_t(k), 1);
    return reshape(x, shape);
}

// y = x broadcast to shape     dx = dy summed over the broadcast axes (done by the engine)
template <class T> Tensor<T> expand(const Tensor<T>& x, const Shape& shape) {
    const Array<T>& X = as_xtensor(x);
    if (!broadcasts_to(X.shape(), ArrayShape(shape.begin(), shape.end()))) {
        throw ShapeError(fmt::format("expand: shape {} cannot be broadcast to {}",
                                     format_shape(X.shape()), format_shape(shape)));
    }
    return record("expand", {x}, from_xtensor(xt::broadcast(X, shape)),
                  [](auto& d, const auto& dY) { d.add(0, dY); });
}

// y = x summed back to shape (the adjoint of expand)     dx = dy broadcast to x's shape
template <class T> Tensor<T> sum_to_shape(const Tensor<T>& x, const Shape& shape) {
    const Array<T>& X = as_xtensor(x);
    const ArrayShape target(shape.begin(), shape.end());
    if (!broadcasts_to(target, X.shape())) {
        throw ShapeError(fmt::format("sum_to_shape: {} is not a broadcast of {}",
                                     format_shape(X.shape()), format_shape(shape)));
    }
    return record(
        "sum_to_shape", {x}, from_xtensor(reduce_to_shape(X, target)),
        [x_shape = shape_of(x)](auto& d, const auto& dY) { d.add(0, expand(dY, x_shape)); });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> transpose(const Tensor<T>&);                                                \
    template Tensor<T> transpose(const Tensor<T>&, const std::vector<std::size_t>&);               \
    template Tensor<T> reshape(const Tensor<T>&, const detail::IntegerList<std::int64_t>&);        \
    template Tensor<T> flatten(const Tensor<T>&, int, int);                                        \
    template Tensor<T> squeeze(const Tensor<T>&, int);                                             \
    template Tensor<T> squeeze(const Tensor<T>&);                                                  \
    template Tensor<T> unsqueeze(const Tensor<T>&, int);                                           \
    template Tensor<T> expand(const Tensor<T>&, const Shape&);                                     \
    template Tensor<T> sum_to_shape(const Tensor<T>&, const Shape&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
