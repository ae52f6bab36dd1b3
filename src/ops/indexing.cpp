// Taking elements out of a tensor and joining tensors. Each op knows where every element it
// takes comes from (row-major positions); its gradient puts the output's gradient back there
// (scatter_flat), and the gradient of that is taking again (gather_flat): the pair is
// closed under differentiation.

#include "tapegrad/function.hpp"

#include <algorithm>
#include <numeric>

namespace tapegrad {

using namespace detail; // the vocabulary of closures on arrays: gather_flat, scatter_flat

namespace {

std::size_t element_count(const Shape& shape) {
    return std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
}

/// The positions in a tensor of `shape` of the entries `entries` of `axis`, every other axis
/// whole, in row-major order of the result (whose `axis` has entries.size() entries).
FlatPositions positions_along(const Shape& shape, std::size_t axis,
                              const std::vector<std::size_t>& entries) {
    const AxisView v = view_around_axis(ArrayShape(shape.begin(), shape.end()), axis);
    auto positions = std::make_shared<std::vector<std::size_t>>();
    positions->reserve(v.outer * entries.size() * v.inner);
    for (std::size_t o = 0; o < v.outer; ++o)
        for (std::size_t e : entries)
            for (std::size_t i = 0; i < v.inner; ++i)
                positions->push_back((o * v.extent + e) * v.inner + i);
    return positions;
}

template <class T>
Tensor<T> take_along(const char* name, const Tensor<T>& x, int axis,
                     const std::vector<std::size_t>& entries, bool keep_axis) {
    const Shape shape = x.shape();
    const std::size_t k = normalize_axis(name, axis, shape.size());
    for (std::size_t e : entries) {
        if (e >= shape[k]) {
            throw IndexError(fmt::format("{}: index {} is out of range for axis {} of shape {}",
                                         name, e, axis, format_shape(shape)));
        }
    }
    Shape result = shape;
    result[k] = entries.size();
    if (!keep_axis) result.erase(result.begin() + std::ptrdiff_t(k));
    return take(name, x, positions_along(shape, k, entries), result);
}

/// Entries start, start + step, ... before stop of `axis` (checked by the caller).
template <class T>
Tensor<T> take_range(const char* name, const Tensor<T>& x, int axis, std::size_t start,
                     std::size_t stop, std::size_t step) {
    std::vector<std::size_t> entries;
    for (std::size_t e = start; e < stop; e += step) entries.push_back(e);
    return take_along(name, x, axis, entries, true);
}

} // namespace

namespace detail {

// y.flat[j] = x.flat[p[j]]      dx = scatter_flat(dy, p, x's shape)
template <class T>
Tensor<T> take(const char* op, const Tensor<T>& x, FlatPositions positions, const Shape& shape) {
    return record(op, {x}, from_xtensor(detail::gather_flat(as_xtensor(x), positions, shape)),
                  [positions, x_shape = x.shape()](auto& d, const auto& dY) {
                      d.add(0, scatter_flat(dY, positions, x_shape));
                  });
}

template <class T>
Array<T> gather_flat(const Array<T>& x, const FlatPositions& positions, const Shape& shape) {
    Array<T> y = Array<T>::from_shape(shape);
    const std::vector<std::size_t>& p = *positions;
    for (std::size_t j = 0; j < p.size(); ++j) y.data()[j] = x.data()[p[j]];
    return y;
}

template <class T>
Array<T> scatter_flat(const Array<T>& x, const FlatPositions& positions, const Shape& shape) {
    Array<T> y = xt::zeros<T>(shape);
    const std::vector<std::size_t>& p = *positions;
    for (std::size_t j = 0; j < p.size(); ++j) y.data()[p[j]] += x.data()[j];
    return y;
}

} // namespace detail

// y.flat[j] = x.flat[p[j]]      dx = scatter_flat(dy, p, x's shape)
template <class T>
Tensor<T> gather_flat(const Tensor<T>& x, FlatPositions positions, const Shape& shape) {
    const bool fits = positions && positions->size() == element_count(shape) &&
                      std::all_of(positions->begin(), positions->end(),
                                  [&](std::size_t p) { return p < x.size(); });
    if (!fits) {
        throw IndexError(fmt::format(
            "gather_flat: {} positions into a tensor of shape {} do not make shape {}",
            positions ? positions->size() : 0, format_shape(x.shape()), format_shape(shape)));
    }
    return take("gather_flat", x, std::move(positions), shape);
}

// y = 0 with y.flat[p[j]] += x.flat[j]      dx = gather_flat(dy, p, x's shape)
template <class T>
Tensor<T> scatter_flat(const Tensor<T>& x, FlatPositions positions, const Shape& shape) {
    const std::size_t count = element_count(shape);
    const bool fits =
        positions && positions->size() == x.size() &&
        std::all_of(positions->begin(), positions->end(), [&](std::size_t p) { return p < count; });
    if (!fits) {
        throw IndexError(fmt::format(
            "scatter_flat: {} positions for a tensor of shape {} do not fit shape {}",
            positions ? positions->size() : 0, format_shape(x.shape()), format_shape(shape)));
    }
    return record("scatter_flat", {x},
                  from_xtensor(detail::scatter_flat(as_xtensor(x), positions, shape)),
                  [positions, x_shape = x.shape()](auto& d, const auto& dY) {
                      d.add(0, gather_flat(dY, positions, x_shape));
                  });
}

template <class T>
Tensor<T> narrow(const Tensor<T>& x, int axis, std::size_t start, std::size_t length) {
    const std::size_t k = normalize_axis("narrow", axis, x.rank());
    const std::size_t extent = x.shape()[k];
    if (start > extent || length > extent - start) {
        throw IndexError(fmt::format("narrow: {} entries from {} do not fit axis {} of shape {}",
                                     length, start, axis, format_shape(x.shape())));
    }
    return take_range("narrow", x, axis, start, start + length, 1);
}

template <class T>
Tensor<T> slice(const Tensor<T>& x, int axis, std::size_t start, std::size_t stop,
                std::size_t step) {
    const std::size_t k = normalize_axis("slice", axis, x.rank());
    if (step == 0 || start > stop || stop > x.shape()[k]) {
        throw IndexError(fmt::format("slice: [{}, {}) step {} does not fit axis {} of shape {}",
                                     start, stop, step, axis, format_shape(x.shape())));
    }
    return take_range("slice", x, axis, start, stop, step);
}

template <class T> Tensor<T> select(const Tensor<T>& x, int axis, std::size_t index) {
    return take_along("select", x, axis, {index}, false);
}

template <class T> Tensor<T> index_select(const Tensor<T>& x, int axis, const Labels& indices) {
    std::vector<std::size_t> entries;
    for (std::int64_t i : indices) {
        if (i < 0) {
            throw IndexError(fmt::format("index_select: negative index {} for shape {}", i,
                                         format_shape(x.shape())));
        }
        entries.push_back(static_cast<std::size_t>(i));
    }
    return take_along("index_select", x, axis, entries, true);
}

template <class T> Tensor<T> gather(const Tensor<T>& x, int axis, const Indices& index) {
    const Shape shape = x.shape();
    const std::size_t k = normalize_axis("gather", axis, shape.size());
    bool fits =
        index.shape.size() == shape.size() && index.values.size() == element_count(index.shape);
    for (std::size_t a = 0; fits && a < shape.size(); ++a)
        fits = a == k || index.shape[a] <= shape[a];
    if (!fits) {
        throw ShapeError(fmt::format(
            "gather: an index of shape {} does not fit a tensor of shape {} along axis {}",
            format_shape(index.shape), format_shape(shape), axis));
    }
    std::vector<std::size_t> strides(shape.size(), 1);
    for (std::size_t a = shape.size(); a-- > 1;) strides[a - 1] = strides[a] * shape[a];
    auto positions = std::make_shared<std::vector<std::size_t>>(index.values.size());
    std::vector<std::size_t> at(shape.size(), 0); // multi-index into `index`
    for (std::size_t j = 0; j < index.values.size(); ++j) {
        const std::int64_t chosen = index.values[j];
        if (chosen < 0 || static_cast<std::size_t>(chosen) >= shape[k]) {
            throw IndexError(fmt::format("gather: index {} is out of range for axis {} of shape {}",
                                         chosen, axis, format_shape(shape)));
        }
        std::size_t p = 0;
        for (std::size_t a = 0; a < shape.size(); ++a)
            p += (a == k ? std::size_t(chosen) : at[a]) * strides[a];
        (*positions)[j] = p;
        for (std::size_t a = shape.size(); a-- > 0;) {
            if (++at[a] < index.shape[a]) break;
            at[a] = 0;
        }
    }
    return take("gather", x, positions, index.shape);
}

// y = the inputs joined along axis      dx_k = dy's block of input k
template <class T> Tensor<T> cat(const std::vector<Tensor<T>>& tensors, int axis) {
    if (tensors.empty()) throw ValueError("cat: no tensors to join");
    const Shape first = tensors[0].shape();
    const std::size_t k = normalize_axis("cat", axis, first.size());
    Shape shape = first;
    shape[k] = 0;
    for (const Tensor<T>& t : tensors) {
        Shape s = t.shape();
        if (s.size() == first.size()) s[k] = first[k]; // any extent along the joined axis
        if (s != first) {
            std::vector<std::string> shapes;
            for (const Tensor<T>& u : tensors) shapes.push_back(format_shape(u.shape()));
            throw ShapeError(fmt::format("cat: shapes {} cannot be joined along axis {}",
                                         fmt::join(shapes, ", "), axis));
        }
        shape[k] += t.shape()[k];
    }
    std::vector<FlatPositions> positions;
    Array<T> y = Array<T>::from_shape(shape);
    std::size_t offset = 0;
    for (const Tensor<T>& t : tensors) {
        std::vector<std::size_t> entries(t.shape()[k]);
        std::iota(entries.begin(), entries.end(), offset);
        offset += entries.size();
        positions.push_back(positions_along(shape, k, entries));
        const std::vector<std::size_t>& p = *positions.back();
        for (std::size_t j = 0; j < p.size(); ++j) y.data()[p[j]] = t.data()[j];
    }
    std::vector<Shape> shapes;
    for (const Tensor<T>& t : tensors) shapes.push_back(t.shape());
    return record("cat", tensors, from_xtensor(std::move(y)),
                  [positions, shapes](auto& d, const auto& dY) {
                      for (std::size_t i = 0; i < positions.size(); ++i)
                          if (d.wants(i)) d.add(i, gather_flat(dY, positions[i], shapes[i]));
                  });
}

template <class T> Tensor<T> stack(const std::vector<Tensor<T>>& tensors, int axis) {
    if (tensors.empty()) throw ValueError("stack: no tensors to join");
    const Shape shape = tensors[0].shape();
    const std::size_t k = normalize_axis("stack", axis, shape.size() + 1);
    std::vector<Tensor<T>> expanded;
    for (const Tensor<T>& t : tensors) {
        if (t.shape() != shape) {
            throw ShapeError(fmt::format("stack: shapes {} and {} differ", format_shape(shape),
                                         format_shape(t.shape())));
        }
        expanded.push_back(unsqueeze(t, static_cast<int>(k)));
    }
    return cat(expanded, static_cast<int>(k));
}

// y_k = x's block k along axis      dx = the blocks' gradients put back in place
template <class T> std::vector<Tensor<T>> split(const Tensor<T>& x, const Shape& sizes, int axis) {
    const Shape shape = x.shape();
    const std::size_t k = normalize_axis("split", axis, shape.size());
    if (std::accumulate(sizes.begin(), sizes.end(), std::size_t(0)) != shape[k]) {
        throw ShapeError(fmt::format("split: pieces ({}) do not add up to axis {} of shape {}",
                                     fmt::join(sizes, ", "), axis, format_shape(shape)));
    }
    std::vector<FlatPositions> positions;
    std::vector<Tensor<T>> pieces;
    std::size_t offset = 0;
    for (std::size_t size : sizes) {
        std::vector<std::size_t> entries(size);
        std::iota(entries.begin(), entries.end(), offset);
        offset += size;
        positions.push_back(positions_along(shape, k, entries));
        Shape piece = shape;
        piece[k] = size;
        pieces.push_back(from_xtensor(detail::gather_flat(as_xtensor(x), positions.back(), piece)));
    }
    return record("split", std::vector<Tensor<T>>{x}, std::move(pieces),
                  [positions, shape](auto& d, const auto& dys) {
                      for (std::size_t i = 0; i < positions.size(); ++i)
                          d.add(0, scatter_flat(dys[i], positions[i], shape));
                  });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template Tensor<T> detail::take(const char*, const Tensor<T>&, FlatPositions, const Shape&);   \
    template Array<T> detail::gather_flat(const Array<T>&, const FlatPositions&, const Shape&);    \
    template Array<T> detail::scatter_flat(const Array<T>&, const FlatPositions&, const Shape&);   \
    template Tensor<T> gather_flat(const Tensor<T>&, FlatPositions, const Shape&);                 \
    template Tensor<T> scatter_flat(const Tensor<T>&, FlatPositions, const Shape&);                \
    template Tensor<T> narrow(const Tensor<T>&, int, std::size_t, std::size_t);                    \
    template Tensor<T> slice(const Tensor<T>&, int, std::size_t, std::size_t, std::size_t);        \
    template Tensor<T> select(const Tensor<T>&, int, std::size_t);                                 \
    template Tensor<T> index_select(const Tensor<T>&, int, const Labels&);                         \
    template Tensor<T> gather(const Tensor<T>&, int, const Indices&);                              \
    template Tensor<T> cat(const std::vector<Tensor<T>>&, int);                                    \
    template Tensor<T> stack(const std::vector<Tensor<T>>&, int);                                  \
    template std::vector<Tensor<T>> split(const Tensor<T>&, const Shape&, int);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
