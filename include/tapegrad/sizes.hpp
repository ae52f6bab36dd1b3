#pragma once
// The integer lists of the API: shapes, axes and class labels. Each takes any vector of
// integers or a braced list, so `reshape(x, {2, -1})`, `sum(x, axes)` with a
// std::vector<int64_t>, or labels in a std::vector<int> all work.

#include "tapegrad/errors.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

namespace tapegrad {

namespace detail {
/// A std::vector<Int> that also converts from vectors and lists of other integer types.
template <class Int> class IntegerList : public std::vector<Int> {
public:
    using std::vector<Int>::vector;
    IntegerList() = default;
    IntegerList(const std::vector<Int>& values) : std::vector<Int>(values) {}
    IntegerList(std::vector<Int>&& values) : std::vector<Int>(std::move(values)) {}
    template <class Other,
              class = std::enable_if_t<std::is_integral_v<Other> && !std::is_same_v<Other, Int>>>
    IntegerList(const std::vector<Other>& values) : std::vector<Int>(convert(values)) {}
    template <class Other,
              class = std::enable_if_t<std::is_integral_v<Other> && !std::is_same_v<Other, Int>>>
    IntegerList(std::initializer_list<Other> values) : std::vector<Int>(convert(values)) {}

private:
    template <class Values> static std::vector<Int> convert(const Values& values) {
        std::vector<Int> converted;
        converted.reserve(values.size());
        for (auto v : values) {
            if constexpr (std::is_unsigned_v<Int> && std::is_signed_v<decltype(v)>) {
                if (v < 0)
                    throw ValueError("a size or index list holds the negative value " +
                                     std::to_string(v));
            }
            converted.push_back(static_cast<Int>(v));
        }
        return converted;
    }
};
} // namespace detail

/// Extents of the axes of a tensor, outermost first.
using Shape = detail::IntegerList<std::size_t>;
/// Axes of a tensor; negative ones count from the end (-1 is the last).
using Axes = detail::IntegerList<int>;
/// Class indices, one per row, for the label forms of the losses; also lists of indices.
using Labels = detail::IntegerList<std::int64_t>;

} // namespace tapegrad
