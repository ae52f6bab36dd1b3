#include "tapegrad/detail/shape.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xreducer.hpp>

#include <algorithm>

namespace tapegrad::detail {

template <class S> std::string format_shape(const S& shape) {
    if (shape.size() == 1) return fmt::format("({},)", shape[0]);
    return fmt::format("({})", fmt::join(shape.begin(), shape.end(), ", "));
}
template std::string format_shape(const ArrayShape&);
template std::string format_shape(const Shape&);
template std::string format_shape(const std::vector<std::size_t>&);

ArrayShape broadcast_shapes(const char* op, const ArrayShape& a, const ArrayShape& b) {
    const std::size_t rank = std::max(a.size(), b.size());
    ArrayShape out(rank);
    for (std::size_t k = 0; k < rank; ++k) {
        // Align from the right; a missing leading axis acts as size 1.
        const std::size_t da = k + a.size() >= rank ? a[k + a.size() - rank] : 1;
        const std::size_t db = k + b.size() >= rank ? b[k + b.size() - rank] : 1;
        if (da != db && da != 1 && db != 1) {
            throw ShapeError(fmt::format("{}: shapes {} and {} cannot be broadcast together", op,
                                         format_shape(a), format_shape(b)));
        }
        out[k] = da == 1 ? db : da;
    }
    return out;
}

bool broadcasts_to(const ArrayShape& from, const ArrayShape& to) {
    if (from.size() > to.size()) return false;
    const std::size_t extra = to.size() - from.size();
    for (std::size_t k = 0; k < from.size(); ++k) {
        if (from[k] != to[k + extra] && from[k] != 1) return false;
    }
    return true;
}

std::size_t normalize_axis(const char* op, int axis, std::size_t rank) {
    const auto signed_rank = static_cast<long>(rank);
    if (axis < -signed_rank || axis >= signed_rank) {
        throw IndexError(
            fmt::format("{}: axis {} is out of range for a tensor of rank {}", op, axis, rank));
    }
    return static_cast<std::size_t>(axis < 0 ? axis + signed_rank : axis);
}

std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, std::size_t rank) {
    std::vector<std::size_t> result;
    for (int axis : axes) result.push_back(normalize_axis(op, axis, rank));
    std::sort(result.begin(), result.end());
    if (std::adjacent_find(result.begin(), result.end()) != result.end()) {
        throw IndexError(fmt::format("{}: axes ({}) repeat an axis", op, fmt::join(axes, ", ")));
    }
    return result;
}

// Consecutive axes that are all summed or all kept merge into one block; the loop then
// runs over the outer blocks, and the innermost block is either added as a contiguous row
// into the total (kept) or summed into one element (summed): both vectorise.
template <class T>
Array<T> sum_over(const Array<T>& x, const std::vector<std::size_t>& axes, bool keepdims) {
    ArrayShape kept = x.shape();
    for (std::size_t axis : axes) kept[axis] = 1;
    Array<T> total = xt::zeros<T>(kept);
    struct Block {
        std::size_t extent;
        bool summed;
    };
    std::vector<Block> blocks;
    for (std::size_t k = 0; k < x.dimension(); ++k) {
        const std::size_t extent = x.shape()[k];
        const bool summed = std::binary_search(axes.begin(), axes.end(), k);
        if (extent == 1) continue;
        if (!blocks.empty() && blocks.back().summed == summed)
            blocks.back().extent *= extent;
        else
            blocks.push_back({extent, summed});
    }
    if (x.size() == 1) total.data()[0] = x.data()[0];
    if (x.size() > 1) {
        const std::size_t n = blocks.back().extent, m = blocks.size();
        const bool inner_summed = blocks.back().summed;
        std::vector<std::size_t> out_stride(m, 0), count(m, 0);
        std::size_t stride = inner_summed ? 1 : n;
        for (std::size_t b = m - 1; b-- > 0;) {
            if (blocks[b].summed) continue;
            out_stride[b] = stride;
            stride *= blocks[b].extent;
        }
        const T* in = x.data();
        T* out = total.data();
        std::size_t at = 0;
        for (std::size_t row = 0; row < x.size() / n; ++row) {
            const T* values = in + row * n;
            if (inner_summed) {
                T sum = 0;
                for (std::size_t i = 0; i < n; ++i) sum += values[i];
                out[at] += sum;
            } else {
                T* target = out + at;
                for (std::size_t i = 0; i < n; ++i) target[i] += values[i];
            }
            for (std::size_t b = m - 1; b-- > 0;) { // the next outer multi-index
                at += out_stride[b];
                if (++count[b] < blocks[b].extent) break;
                at -= out_stride[b] * blocks[b].extent;
                count[b] = 0;
            }
        }
    }
    if (!keepdims) {
        ArrayShape dropped;
        for (std::size_t k = 0; k < kept.size(); ++k) {
            if (!std::binary_search(axes.begin(), axes.end(), k)) dropped.push_back(kept[k]);
        }
        total.reshape(dropped);
    }
    return total;
}

template <class T> Array<T> reduce_to_shape(const Array<T>& gradient, const ArrayShape& shape) {
    const std::size_t extra = gradient.dimension() - shape.size();
    std::vector<std::size_t> axes;
    for (std::size_t k = 0; k < gradient.dimension(); ++k) {
        if (k < extra || (shape[k - extra] == 1 && gradient.shape()[k] != 1)) axes.push_back(k);
    }
    Array<T> reduced = sum_over(gradient, axes, false);
    reduced.reshape(shape);
    return reduced;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Array<T> sum_over(const Array<T>&, const std::vector<std::size_t>&, bool);            \
    template Array<T> reduce_to_shape(const Array<T>&, const ArrayShape&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

AxisView view_around_axis(const ArrayShape& shape, std::size_t axis) {
    AxisView view;
    for (std::size_t k = 0; k < shape.size(); ++k) {
        if (k < axis)
            view.outer *= shape[k];
        else if (k == axis)
            view.extent = shape[k];
        else
            view.inner *= shape[k];
    }
    return view;
}

} // namespace tapegrad::detail
