#pragma once
// Shape arithmetic shared by the ops: formatting for messages, broadcasting, axes.

#include "tapegrad/tensor.hpp"
#include "tapegrad/xtensor.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace tapegrad::detail {

using ArrayShape = xt::svector<std::size_t, 4>;

/// A shape's extents, not owned (a node's packed shape, an array's shape): read and compared
/// where a backward sweep would otherwise copy it for every gradient.
class ShapeView {
public:
    ShapeView(const std::size_t* extents, std::size_t rank) : extents_(extents), rank_(rank) {}
    ShapeView(const ArrayShape& shape) : ShapeView(shape.data(), shape.size()) {}

    std::size_t size() const { return rank_; }
    const std::size_t* begin() const { return extents_; }
    const std::size_t* end() const { return extents_ + rank_; }
    std::size_t operator[](std::size_t axis) const { return extents_[axis]; }
    template <class S> bool equals(const S& other) const {
        return other.size() == rank_ && std::equal(begin(), end(), other.begin());
    }
    ArrayShape unpacked() const { return ArrayShape(begin(), end()); }

private:
    const std::size_t* extents_;
    std::size_t rank_;
};

/// "(128, 784)"; a rank-0 shape is "()".
template <class S> std::string format_shape(const S& shape);

/// The NumPy broadcast of two shapes; throws ShapeError naming `op` and both shapes.
ArrayShape broadcast_shapes(const char* op, const ArrayShape& a, const ArrayShape& b);

/// Whether `to` is a broadcast of `from` (NumPy's rules): what a gradient of an op's output
/// must be for an input of shape `from`.
bool broadcasts_to(const ArrayShape& from, const ArrayShape& to);

/// `axis` in [-rank, rank) made non-negative; throws IndexError naming `op`.
std::size_t normalize_axis(const char* op, int axis, std::size_t rank);

/// Sorted distinct non-negative axes; throws IndexError on a bad or repeated axis.
std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, std::size_t rank);

/// The sum of `x` over the sorted distinct `axes`, keeping them as size 1 if `keepdims`.
/// A tensor with a zero extent sums to zeros (xtensor's reducer would read its null data).
template <class T>
Array<T> sum_over(const Array<T>& x, const std::vector<std::size_t>& axes, bool keepdims);

/// Sums `gradient` (shape broadcast from `shape`) back down to `shape`.
template <class T> Array<T> reduce_to_shape(const Array<T>& gradient, const ArrayShape& shape);

/// An array of `shape`, elements uninitialised.
template <class T> Array<T> empty_array(const ArrayShape& shape) {
    return Array<T>::from_shape(shape);
}

/// (outer, extent, inner) sizes that view `shape` as a 3-D block around `axis`, for loops
/// that run along one axis of a row-major array.
struct AxisView {
    std::size_t outer = 1, extent = 1, inner = 1;
};
AxisView view_around_axis(const ArrayShape& shape, std::size_t axis);

} // namespace tapegrad::detail
