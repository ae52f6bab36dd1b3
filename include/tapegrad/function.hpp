#pragma once
// Writing a differentiable op. Every op of tapegrad is written with this header, and so can
// yours (docs/custom-ops.md):
//
//   // y = softplus(x) = log(1 + e^x)        dx = dy (.) sigmoid(x)
//   template <class T> Tensor<T> softplus(const Tensor<T>& x) {
//       Tensor<T> y = from_xtensor(xt::log1p(xt::exp(as_xtensor(x))));   // the forward, on values
//       return record("softplus", {x}, y, saving(x),                       // inputs, output, saved
//                     [](TensorGradients<T>& d, const Tensor<T>& dy, const Tensor<T>& x) {
//                         d.add(0, dy * sigmoid(x));                      // each input's gradient
//                     });
//   }
//
// record() attaches a node to the output when gradients flow (recording is on and an input
// requires one) and returns it. The closure gets the output's gradient, then the saved
// tensors in the order given to saving(), and adds each input's gradient with d.add(i, g);
// a gradient of the output's shape for an input that was broadcast is summed back to the
// input's shape by the engine. Save only what the backward reads; the engine checks that no
// saved value was written to since (GraphError otherwise).
//
// A closure written in tensor ops, as above, is differentiable itself: a backward with
// create_graph records it, so second and higher derivatives come for free. For speed, a
// closure may instead take `auto` parameters and be written in operations that exist both
// for tensors and for arrays (arithmetic, exp, log, where, matmul, ... : see the vocabulary
// below); first-order backward then runs it on arrays, fusing its arithmetic, and
// create_graph runs it on tensors. The built-in ops are written that way.

#include "tapegrad/detail/graph.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops.hpp"

#include <fmt/format.h>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xstrided_view.hpp>

#include <array>
#include <initializer_list>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace tapegrad {

namespace detail {

/// The tensors given to saving(); null where save_if() saved nothing.
template <class T, std::size_t N> struct SaveList { std::array<const Tensor<T>*, N> tensors; };

/// Throws GraphError: `saved` was written to since it was saved.
template <class T>
[[noreturn]] void throw_version_changed(const Node<T>& node, const Saved<T>& saved,
                                        std::size_t position);

template <class T>
void check_version(const Node<T>& node, const Saved<T>& saved, std::size_t position) {
    if (saved.value && saved.value->version != saved.version)
        throw_version_changed(node, saved, position);
}

/// The arrays and tensors a closure may receive in place of a save_if() that saved nothing.
template <class T> const Array<T>& nothing_saved_array();

template <class T> bool same_shape(const ArrayShape& a, const ArrayShape& b) {
    return ShapeView(a).equals(b);
}

/// `adjoint` for writing in place, made its own first if it is shared (copy on write): an
/// adjoint handed down unchanged, or a gradient a tensor closure returned, may be held
/// elsewhere too.
template <class T> Array<T>& writable(Adjoint<T>& adjoint) {
    if (adjoint.value.use_count() > 1) {
        adjoint.value = make_pooled<Value<T>>(static_cast<const Array<T>&>(*adjoint.value));
    }
    return *adjoint.value;
}

// Matrix products for closures that run on both arrays and tensors. transposed(a) only
// marks an operand; matmul on arrays makes a MatrixProduct that Gradients::add evaluates
// with GEMM straight into the input's gradient (beta = 1 accumulates), and on tensors a
// product op with transpose flags (no transposed copy on either path).
template <class V> struct MatrixOperand {
    const V& value;
    bool transposed;
};
template <class T> struct MatrixProduct {
    const Array<T>& a;
    bool transpose_a;
    const Array<T>& b;
    bool transpose_b;
};
template <class T> struct IsMatrixProduct : std::false_type {};
template <class T> struct IsMatrixProduct<MatrixProduct<T>> : std::true_type {};

/// C = op(A) op(B) + beta C for matrices or stacks of matrices; checks C's shape.
template <class T>
void multiply_into(const MatrixProduct<T>& product, T beta, Array<T>& c, const char* op);
template <class T> Array<T> evaluate(const MatrixProduct<T>& product, const char* op);

} // namespace detail

/// The gradients of one output of an op with several outputs (ops recorded with a vector of
/// outputs get these instead of a single gradient); an output no gradient reached has zeros.
template <class G> class OutputGradients {
public:
    explicit OutputGradients(std::vector<const G*> gradients) : gradients_(std::move(gradients)) {}
    const G& operator[](std::size_t k) const { return *gradients_[k]; }
    std::size_t size() const { return gradients_.size(); }

private:
    std::vector<const G*> gradients_;
};

/// What a backward closure writes to: the gradient of each input of its node. G is the
/// kind of value the closure computes with: Array<T> (first order, fused arithmetic) or
/// Tensor<T> (recorded when the backward creates a graph).
template <class T, class G> class Gradients {
public:
    explicit Gradients(detail::Node<T>& node) : node_(node) {}

    /// Whether input i requires a gradient; closures skip the work for those that do not.
    bool wants(std::size_t i) const { return static_cast<bool>(node_.inputs[i]); }
    std::size_t input_count() const { return node_.inputs.size(); }
    const char* op() const { return node_.op; }
    detail::Node<T>& node() const { return node_; }

    /// Adds `gradient` into input i's gradient: a value of the input's shape, or of the
    /// op's output shape when that is a broadcast of the input's (summed back here).
    template <class E> void add(std::size_t i, E&& gradient) {
        add_to_output(i, 0, std::forward<E>(gradient));
    }
    /// The same into output k of input i (the selectors of multi-output ops use it).
    template <class E> void add_to_output(std::size_t i, std::size_t k, E&& gradient);

    /// `expression` computed now, as a value of the closure's kind: an intermediate that a
    /// closure reads more than once (an array; a tensor is computed already).
    template <class E> G evaluate(E&& expression) const {
        if constexpr (std::is_same_v<G, Array<T>>) {
            return Array<T>(std::forward<E>(expression));
        } else {
            return std::forward<E>(expression);
        }
    }

    /// `array` as a constant of the closure's kind: the array itself, or a tensor without
    /// history (one-hot targets, masks).
    G constant(Array<T> array) const {
        if constexpr (std::is_same_v<G, Array<T>>) {
            return array;
        } else {
            return from_xtensor(std::move(array));
        }
    }

private:
    template <class E>
    void accumulate_array(std::size_t i, detail::Adjoint<T>& target, detail::ShapeView shape,
                          E&& gradient);
    void accumulate_tensor(std::size_t i, detail::Adjoint<T>& target, detail::ShapeView shape,
                           const Tensor<T>& gradient);
    /// Throws GraphError: a closure added a gradient for input i, which needs none.
    [[noreturn]] void throw_not_wanted(std::size_t i) const;
    /// Throws ShapeError: a closure gave input i a gradient that does not fit its shape.
    [[noreturn]] void throw_shape_mismatch(std::size_t i, const detail::ArrayShape& gradient,
                                           const detail::ArrayShape& shape) const;

    detail::Node<T>& node_;
};

template <class T, class G>
template <class E>
void Gradients<T, G>::add_to_output(std::size_t i, std::size_t k, E&& gradient) {
    if (i >= input_count() || !wants(i)) throw_not_wanted(i);
    detail::Node<T>& input = *node_.inputs[i];
    detail::Adjoint<T>& target = input.output_adjoint(k);
    const detail::ShapeView shape = input.output_shape(k);
    using Gradient = std::decay_t<E>;
    if constexpr (detail::IsMatrixProduct<Gradient>::value) {
        const bool fresh = !target;
        if (fresh)
            target.value =
                detail::make_pooled<detail::Value<T>>(detail::empty_array<T>(shape.unpacked()));
        detail::multiply_into(gradient, fresh ? T(0) : T(1), detail::writable(target), node_.op);
    } else if constexpr (std::is_same_v<Gradient, Tensor<T>>) {
        accumulate_tensor(i, target, shape, gradient);
    } else {
        accumulate_array(i, target, shape, std::forward<E>(gradient));
    }
}

template <class T, class G>
template <class E>
void Gradients<T, G>::accumulate_array(std::size_t i, detail::Adjoint<T>& target,
                                       detail::ShapeView shape, E&& gradient) {
    using Gradient = std::decay_t<E>;
    const auto& g_shape = gradient.shape();
    if constexpr (std::is_base_of_v<Array<T>, Gradient>) {
        // The node's own adjoint handed down unchanged (y = x + ...): shared, not copied.
        const bool is_own_adjoint =
            static_cast<const void*>(&gradient) == node_.adjoint.value.get();
        if (is_own_adjoint && !target && shape.equals(g_shape)) {
            target.value = node_.adjoint.value;
            return;
        }
    }
    if (shape.equals(g_shape)) {
        if (!target) {
            target.value = detail::make_pooled<detail::Value<T>>(std::forward<E>(gradient));
        } else {
            xt::noalias(detail::writable(target)) += gradient;
        }
        return;
    }
    const detail::ArrayShape from(g_shape.begin(), g_shape.end()), to = shape.unpacked();
    if (!detail::broadcasts_to(to, from)) throw_shape_mismatch(i, from, to);
    Array<T> reduced = detail::reduce_to_shape<T>(Array<T>(std::forward<E>(gradient)), to);
    if (!target) {
        target.value = detail::make_pooled<detail::Value<T>>(std::move(reduced));
    } else {
        xt::noalias(detail::writable(target)) += reduced;
    }
}

namespace detail {

/// The closure's view of output gradients and saved values, for arrays or tensors.
template <class T, class G> struct ClosureArguments;

template <class T> [[noreturn]] void throw_released(const Node<T>& node);
/// Throws GraphError: a backward that creates a graph met a closure written on arrays only.
template <class T> [[noreturn]] void throw_not_differentiable(const Node<T>& node);

/// A recorded op: its saved values and its backward closure.
template <class T, class Closure, std::size_t SavedCount, bool SeveralOutputs>
class OpNode : public Node<T> {
public:
    OpNode(const char* op_name, const ArrayShape& value_shape, Closure closure)
        : Node<T>(op_name, value_shape), closure_(std::move(closure)) {}

    void backward(ArrayGradients<T>& d) override {
        require_not_released();
        if constexpr (runs_on_arrays) {
            run(d, std::make_index_sequence<SavedCount>());
        } else {
            // A closure written in tensor ops only: run on tensors, recording nothing.
            NoGrad no_recording;
            TensorGradients<T> tensors(d.node());
            run(tensors, std::make_index_sequence<SavedCount>());
        }
    }
    void backward(TensorGradients<T>& d) override {
        require_not_released();
        if constexpr (runs_on_tensors) {
            run(d, std::make_index_sequence<SavedCount>());
        } else {
            throw_not_differentiable(*this);
        }
    }
    void release() override {
        closure_.reset();
        for (Saved<T>& s : saved) {
            s.value.reset();
            s.history.reset();
        }
    }
    bool released() const override { return !closure_.has_value(); }
    std::vector<const Saved<T>*> saved_values() const override {
        std::vector<const Saved<T>*> values;
        for (const Saved<T>& s : saved)
            if (s.value) values.push_back(&s);
        return values;
    }

    std::array<Saved<T>, SavedCount> saved;

private:
    template <class G>
    using OutputGradient = std::conditional_t<SeveralOutputs, OutputGradients<G>, G>;
    template <class G, std::size_t> using SavedArgument = const G&;
    template <class G, std::size_t... I>
    static constexpr bool invocable_with(std::index_sequence<I...>) {
        return std::is_invocable_v<Closure&, Gradients<T, G>&, const OutputGradient<G>&,
                                   SavedArgument<G, I>...>;
    }
    static constexpr bool runs_on_arrays =
        invocable_with<Array<T>>(std::make_index_sequence<SavedCount>());
    static constexpr bool runs_on_tensors =
        invocable_with<Tensor<T>>(std::make_index_sequence<SavedCount>());
    static_assert(runs_on_arrays || runs_on_tensors,
                  "a backward closure takes (TensorGradients<T>&, const Tensor<T>& dy, const "
                  "Tensor<T>& saved...), or the same with ArrayGradients<T> and Array<T> (first "
                  "order only), or `auto` parameters that work on both");

    void require_not_released() const;

    template <class G, std::size_t... I> void run(Gradients<T, G>& d, std::index_sequence<I...>) {
        ClosureArguments<T, G> arguments(*this);
        (check_version(*this, saved[I], I), ...);
        (*closure_)(d, arguments.template output_gradient<SeveralOutputs>(),
                    arguments.unpack(saved[I])...);
    }

    std::optional<Closure> closure_;
};

template <class T, class Closure, std::size_t SavedCount, bool SeveralOutputs>
void OpNode<T, Closure, SavedCount, SeveralOutputs>::require_not_released() const {
    if (!closure_) throw_released(*this);
}

/// How a closure sees values when it runs on arrays: references, no copies.
template <class T> struct ClosureArguments<T, Array<T>> {
    explicit ClosureArguments(Node<T>& node) : node_(node) {}

    template <bool SeveralOutputs> decltype(auto) output_gradient() {
        if constexpr (SeveralOutputs) {
            std::vector<const Array<T>*> gradients;
            for (std::size_t k = 0; k < node_.output_count(); ++k) {
                Adjoint<T>& adjoint = node_.output_adjoint(k);
                if (!adjoint)
                    adjoint.value =
                        make_pooled<Value<T>>(xt::zeros<T>(node_.output_shape(k).unpacked()));
                gradients.push_back(adjoint.value.get());
            }
            return OutputGradients<Array<T>>(std::move(gradients));
        } else {
            return static_cast<const Array<T>&>(*node_.adjoint.value);
        }
    }
    const Array<T>& unpack(const Saved<T>& saved) const {
        return saved.value ? *saved.value : nothing_saved_array<T>();
    }

private:
    Node<T>& node_;
};

/// How a closure sees values when it runs on tensors: each saved value with its history
/// (the input's node, this node for an output), so that recorded ops on them reach back.
template <class T> struct ClosureArguments<T, Tensor<T>> {
    explicit ClosureArguments(Node<T>& node) : node_(node) {}

    template <bool SeveralOutputs> decltype(auto) output_gradient() {
        if constexpr (SeveralOutputs) {
            for (std::size_t k = 0; k < node_.output_count(); ++k) {
                Adjoint<T>& adjoint = node_.output_adjoint(k);
                if (!adjoint)
                    adjoint.value =
                        make_pooled<Value<T>>(xt::zeros<T>(node_.output_shape(k).unpacked()));
                outputs_.push_back(adjoint.tensor());
            }
            std::vector<const Tensor<T>*> gradients;
            for (const Tensor<T>& g : outputs_) gradients.push_back(&g);
            return OutputGradients<Tensor<T>>(std::move(gradients));
        } else {
            outputs_.push_back(node_.adjoint.tensor());
            return static_cast<const Tensor<T>&>(outputs_.back());
        }
    }
    Tensor<T> unpack(const Saved<T>& saved) const;

private:
    Node<T>& node_;
    std::vector<Tensor<T>> outputs_;
};

/// The outputs of an op being recorded (no allocation for the usual single one).
template <class T> struct OutputList {
    Tensor<T>* const* tensors;
    std::size_t count;
    std::size_t size() const { return count; }
    Tensor<T>& operator[](std::size_t k) const { return *tensors[k]; }
};

/// Attaches an op node to `outputs` (their values already computed) when recording.
template <class T, std::size_t SavedCount, bool SeveralOutputs, class Inputs, class Closure>
void attach(const char* op, const Inputs& inputs, OutputList<T> outputs,
            const SaveList<T, SavedCount>& saving, Closure&& closure);

template <class T, class Inputs> bool any_requires_grad(const Inputs& inputs) {
    for (const Tensor<T>& input : inputs)
        if (input.requires_grad()) return true;
    return false;
}

template <class U> struct SameType { using type = U; };

/// record() of an op with one output, its inputs in a list or a vector.
template <class T, std::size_t N, class InputRange, class Closure>
Tensor<T> record_one(const char* name, const InputRange& inputs, Tensor<T> output,
                     const SaveList<T, N>& saved, Closure&& backward) {
    if (grad_enabled() && any_requires_grad<T>(inputs)) {
        Tensor<T>* const single[] = {&output};
        attach<T, N, false>(name, inputs, {single, 1}, saved, std::forward<Closure>(backward));
    }
    return output;
}

} // namespace detail

/// The inputs of an op: `{x}`, `{a, b}`, or a vector of tensors.
template <class T>
using Inputs =
    std::initializer_list<std::reference_wrapper<const Tensor<typename detail::SameType<T>::type>>>;

/// The tensors a closure needs, passed to it after the output gradient in this order.
template <class T, class... More>
detail::SaveList<T, 1 + sizeof...(More)> saving(const Tensor<T>& first, const More&... more) {
    return {{&first, &more...}};
}
/// `tensor` if `needed` is true, else nothing: `a * b` saves b only when a wants a gradient.
/// The closure then receives an empty value in its place, which it must not read.
template <class T> const Tensor<T>* save_if(bool needed, const Tensor<T>& tensor) {
    return needed ? &tensor : nullptr;
}
template <class T, class... More>
detail::SaveList<T, 1 + sizeof...(More)> saving(const Tensor<T>* first, const More*... more) {
    return {{first, more...}};
}

/// Records `output` as the result of op `name` on `inputs`, with `backward` and the values
/// `saved` for it; returns `output`, with a node when gradients flow.
template <class T, std::size_t N, class Closure>
Tensor<T> record(const char* name, Inputs<T> inputs, Tensor<T> output,
                 const detail::SaveList<T, N>& saved, Closure&& backward) {
    return detail::record_one(name, inputs, std::move(output), saved,
                              std::forward<Closure>(backward));
}
template <class T, class Closure>
Tensor<T> record(const char* name, Inputs<T> inputs, Tensor<T> output, Closure&& backward) {
    return record(name, inputs, std::move(output), detail::SaveList<T, 0>{},
                  std::forward<Closure>(backward));
}
template <class T, class Closure>
Tensor<T> record(const char* name, const std::vector<Tensor<T>>& inputs, Tensor<T> output,
                 Closure&& backward) {
    return record(name, inputs, std::move(output), detail::SaveList<T, 0>{},
                  std::forward<Closure>(backward));
}
/// The same with the inputs in a vector (ops with any number of inputs).
template <class T, std::size_t N, class Closure>
Tensor<T> record(const char* name, const std::vector<Tensor<T>>& inputs, Tensor<T> output,
                 const detail::SaveList<T, N>& saved, Closure&& backward) {
    return detail::record_one(name, inputs, std::move(output), saved,
                              std::forward<Closure>(backward));
}
/// An op with several outputs: the closure receives OutputGradients (one per output).
template <class T, std::size_t N, class Closure>
std::vector<Tensor<T>> record(const char* name, const std::vector<Tensor<T>>& inputs,
                              std::vector<Tensor<T>> outputs, const detail::SaveList<T, N>& saved,
                              Closure&& backward) {
    if (grad_enabled() && detail::any_requires_grad<T>(inputs)) {
        std::vector<Tensor<T>*> pointers;
        for (Tensor<T>& output : outputs) pointers.push_back(&output);
        detail::attach<T, N, true>(name, inputs, {pointers.data(), pointers.size()}, saved,
                                   std::forward<Closure>(backward));
    }
    return outputs;
}

template <class T, class Closure>
std::vector<Tensor<T>> record(const char* name, const std::vector<Tensor<T>>& inputs,
                              std::vector<Tensor<T>> outputs, Closure&& backward) {
    return record(name, inputs, std::move(outputs), detail::SaveList<T, 0>{},
                  std::forward<Closure>(backward));
}

// The vocabulary of closures that run on arrays and on tensors. Arithmetic, comparisons,
// exp, log, sqrt, tanh, pow, abs, sign and where need nothing here (xtensor's functions for
// arrays, tapegrad's for tensors); these fill the gaps under the same names as the tensor ops.
namespace detail {

/// The matrix (or each matrix of a batch) x^T, as an operand of matmul.
template <class V> MatrixOperand<V> transposed(const V& x) {
    return {x, true};
}
/// x^T if `transpose`, else x, as an operand of matmul.
template <class V> MatrixOperand<V> transposed_if(bool transpose, const V& x) {
    return {x, transpose};
}
template <class T> MatrixProduct<T> matmul(const Array<T>& a, const Array<T>& b) {
    return {a, false, b, false};
}
template <class T> MatrixProduct<T> matmul(const MatrixOperand<Array<T>>& a, const Array<T>& b) {
    return {a.value, a.transposed, b, false};
}
template <class T> MatrixProduct<T> matmul(const Array<T>& a, const MatrixOperand<Array<T>>& b) {
    return {a, false, b.value, b.transposed};
}
template <class T>
MatrixProduct<T> matmul(const MatrixOperand<Array<T>>& a, const MatrixOperand<Array<T>>& b) {
    return {a.value, a.transposed, b.value, b.transposed};
}
/// op(a) op(b) on tensors, op a transpose or not: the product op (src/ops/matrix.cpp).
template <class T>
Tensor<T> matmul_transposed(const Tensor<T>& a, bool transpose_a, const Tensor<T>& b,
                            bool transpose_b);
template <class T> Tensor<T> matmul(const MatrixOperand<Tensor<T>>& a, const Tensor<T>& b) {
    return matmul_transposed(a.value, a.transposed, b, false);
}
template <class T> Tensor<T> matmul(const Tensor<T>& a, const MatrixOperand<Tensor<T>>& b) {
    return matmul_transposed(a, false, b.value, b.transposed);
}
template <class T>
Tensor<T> matmul(const MatrixOperand<Tensor<T>>& a, const MatrixOperand<Tensor<T>>& b) {
    return matmul_transposed(a.value, a.transposed, b.value, b.transposed);
}
/// `x` broadcast to `shape` (lazy).
template <class E> auto expand(const xt::xexpression<E>& x, const Shape& shape) {
    return xt::broadcast(x.derived_cast(), shape);
}
/// `x` with another shape of the same size (a view).
template <class T> auto reshape(const Array<T>& x, const Shape& shape) {
    return xt::reshape_view(x, std::vector<std::size_t>(shape.begin(), shape.end()));
}
/// The sum over `axes`, kept as size-1 axes.
template <class T> Array<T> sum_keepdims_of(const Array<T>& x, const Axes& axes);
template <class E> auto sum_keepdims(const xt::xexpression<E>& x, const Axes& axes) {
    using T = typename E::value_type;
    return sum_keepdims_of<T>(Array<T>(x), axes);
}
/// Rows of zeros with a 1 at column labels[s] of row s.
template <class T> Array<T> one_hot(const Labels& labels, std::size_t classes);
template <class T> Array<T> softmax(const Array<T>& x, int axis);
template <class T> Array<T> log_softmax(const Array<T>& x, int axis);
/// The op `op` taking x's elements at `positions` into a tensor of `shape` (max, max
/// pooling, indexing: ops whose output is some of their input's elements).
template <class T>
Tensor<T> take(const char* op, const Tensor<T>& x, FlatPositions positions, const Shape& shape);
/// y[j] = x.flat[positions[j]], y of `shape`; and its adjoint, the scatter-add.
template <class T>
Array<T> gather_flat(const Array<T>& x, const FlatPositions& positions, const Shape& shape);
template <class T>
Array<T> scatter_flat(const Array<T>& x, const FlatPositions& positions, const Shape& shape);

} // namespace detail

} // namespace tapegrad

#include "tapegrad/detail/function_impl.hpp"
