#include "tapegrad/factories.hpp"

#include "tapegrad/detail/shape.hpp"
#include "tapegrad/errors.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tapegrad {

Generator& default_generator() {
    thread_local Generator generator;
    return generator;
}

void manual_seed(std::uint64_t seed) {
    default_generator().seed(seed);
}

namespace {

template <class T, class Draw> Tensor<T> filled(const Shape& shape, bool requires_grad, Draw draw) {
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    std::vector<T> values(count);
    for (T& v : values) v = static_cast<T>(draw());
    return Tensor<T>(shape, std::move(values), requires_grad);
}

} // namespace

template <class T> Tensor<T> randn(const Shape& shape, Generator& generator, bool requires_grad) {
    std::normal_distribution<double> normal;
    return filled<T>(shape, requires_grad, [&] { return normal(generator.engine()); });
}

template <class T> Tensor<T> rand(const Shape& shape, Generator& generator, bool requires_grad) {
    return uniform<T>(shape, T(0), T(1), generator, requires_grad);
}

template <class T>
Tensor<T> uniform(const Shape& shape, T low, T high, Generator& generator, bool requires_grad) {
    if (!(low < high))
        throw ValueError(fmt::format("uniform: low {} is not below high {}", low, high));
    std::uniform_real_distribution<double> distribution(low, high);
    return filled<T>(shape, requires_grad, [&] {
        // Rounding to float can land on `high`; keep the interval half-open.
        T v = static_cast<T>(distribution(generator.engine()));
        return v < high ? v : low;
    });
}

template <class T> Tensor<T> arange(T start, T stop, T step) {
    if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
        throw ValueError(fmt::format("arange: cannot step from {} to {} by {}", start, stop, step));
    }
    const double steps = std::ceil((double(stop) - double(start)) / double(step));
    const std::size_t count = steps > 0 ? static_cast<std::size_t>(steps) : 0;
    std::size_t i = 0;
    return filled<T>({count}, false, [&] { return double(start) + double(i++) * double(step); });
}

template <class T> Tensor<T> linspace(T start, T stop, std::size_t count) {
    std::size_t i = 0;
    const double spacing = count > 1 ? (double(stop) - double(start)) / double(count - 1) : 0;
    return filled<T>({count}, false, [&] {
        const std::size_t k = i++;
        return k + 1 == count ? double(stop) : double(start) + double(k) * spacing;
    });
}

template <class T> Tensor<T> eye(std::size_t rows, std::size_t columns) {
    if (columns == 0) columns = rows;
    std::size_t i = 0;
    return filled<T>({rows, columns}, false, [&] {
        const std::size_t k = i++;
        return k / columns == k % columns ? 1.0 : 0.0;
    });
}

template <class T> Tensor<T> zeros_like(const Tensor<T>& like, bool requires_grad) {
    return Tensor<T>::zeros(like.shape(), requires_grad);
}

template <class T> Tensor<T> ones_like(const Tensor<T>& like, bool requires_grad) {
    return Tensor<T>::ones(like.shape(), requires_grad);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> randn(const Shape&, Generator&, bool);                                      \
    template Tensor<T> rand(const Shape&, Generator&, bool);                                       \
    template Tensor<T> uniform(const Shape&, T, T, Generator&, bool);                              \
    template Tensor<T> arange(T, T, T);                                                            \
    template Tensor<T> linspace(T, T, std::size_t);                                                \
    template Tensor<T> eye(std::size_t, std::size_t);                                              \
    template Tensor<T> zeros_like(const Tensor<T>&, bool);                                         \
    template Tensor<T> ones_like(const Tensor<T>&, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
