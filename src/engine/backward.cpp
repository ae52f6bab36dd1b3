// The backward sweep: order the nodes the roots depend on so that each runs after every
// node that consumes it (Kahn's algorithm over consumer counts), then run their closures,
// on arrays (first order) or in recorded tensor ops (create_graph). Iterative throughout,
// so graph depth never touches the call stack.

#include "engine/backward.hpp"

#include "engine/anomaly.hpp"
#include "tapegrad/grad.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace tapegrad::detail {

namespace {

std::uint64_t next_sweep_id() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

/// Work lists reused across sweeps on a thread, so a steady training loop allocates none.
/// One set per nesting level: a hook may run a backward of its own.
template <class T> struct SweepLists {
    std::vector<Node<T>*> stack, ready, reached;
    std::vector<std::pair<Node<T>*, std::size_t>> path; // post-order walk: node, next input
};

template <class T> class ListsInUse {
public:
    ListsInUse() {
        if (depth() == levels().size()) levels().push_back(std::make_unique<SweepLists<T>>());
        lists_ = levels()[depth()++].get();
    }
    ~ListsInUse() {
        lists_->stack.clear();
        lists_->ready.clear();
        lists_->reached.clear();
        lists_->path.clear();
        --depth();
    }
    SweepLists<T>& operator*() const { return *lists_; }
    SweepLists<T>* operator->() const { return lists_; }

private:
    static std::vector<std::unique_ptr<SweepLists<T>>>& levels() {
        thread_local std::vector<std::unique_ptr<SweepLists<T>>> all;
        return all;
    }
    static std::size_t& depth() {
        thread_local std::size_t level = 0;
        return level;
    }
    SweepLists<T>* lists_;
};

/// Marks every node reachable from the roots with this sweep's id, lists it in `reached`
/// and counts, for each, the edges from its consumers among them. Throws before anything
/// is changed if one was released by an earlier sweep.
template <class T>
void count_consumers(const std::vector<Root<T>>& roots, std::uint64_t sweep, bool pruning,
                     SweepLists<T>& lists) {
    auto reach = [&](Node<T>& node) {
        node.sweep_id = sweep;
        node.pending_consumers = 0;
        node.needed = !pruning;
        lists.stack.push_back(&node);
        lists.reached.push_back(&node);
    };
    for (const Root<T>& root : roots)
        if (root.node->sweep_id != sweep) reach(*root.node);
    while (!lists.stack.empty()) {
        Node<T>& node = *lists.stack.back();
        lists.stack.pop_back();
        if (node.released()) throw_released(node);
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            Node<T>* input = node.inputs[i].get();
            if (!input) continue;
            if (input->sweep_id != sweep) reach(*input);
            ++input->pending_consumers;
        }
    }
}

/// For tapegrad::grad: marks the nodes on a path from a root to a node whose gradient was
/// asked for; the others' closures need not run. A post-order walk, so inputs come first.
template <class T>
void mark_needed(const std::vector<Root<T>>& roots, const std::vector<Node<T>*>& targets,
                 std::uint64_t sweep, SweepLists<T>& lists) {
    for (Node<T>* target : targets)
        if (target->sweep_id == sweep) target->needed = true;
    const std::uint64_t visited = ~sweep; // a second mark, so each node is walked once
    for (const Root<T>& root : roots) {
        if (root.node->sweep_id == visited) continue;
        lists.path.emplace_back(root.node, 0);
        root.node->sweep_id = visited;
        while (!lists.path.empty()) {
            auto& [node, next] = lists.path.back();
            if (next < node->inputs.size()) {
                Node<T>* input = node->inputs[next++].get();
                if (input && input->sweep_id != visited) {
                    input->sweep_id = visited;
                    lists.path.emplace_back(input, 0);
                }
                continue;
            }
            // An op without inputs in this graph hands its gradient to the other element
            // type's graph (Tensor::to): it may lead anywhere.
            if (node->inputs.size() == 0 && !node->is_leaf()) node->needed = true;
            for (std::size_t i = 0; i < node->inputs.size(); ++i) {
                if (node->inputs[i] && node->inputs[i]->needed) node->needed = true;
            }
            lists.path.pop_back();
        }
    }
    for (Node<T>* node : lists.reached) node->sweep_id = sweep;
}

/// Adds `seed` into the adjoint of a root. An interior root borrows the seed's value (it is
/// only read; a write copies it first), so a caller's seed is never changed.
template <class T> void add_seed(Adjoint<T>& adjoint, const Adjoint<T>& seed, bool create_graph) {
    if (!adjoint) {
        adjoint = seed;
    } else if (create_graph) {
        const Tensor<T> total = adjoint.tensor() + seed.tensor();
        adjoint = {total.value_ptr(), total.node_ptr()};
    } else {
        xt::noalias(writable(adjoint)) += static_cast<const Array<T>&>(*seed.value);
    }
}

/// Runs the hooks registered on `node`'s tensor on its (complete) adjoint.
template <class T> void run_hooks(Node<T>& node) {
    NodeExtras<T>* extras = node.extras_if_any();
    if (!extras || !extras->hooks || !node.adjoint) return;
    // A copy: a hook may remove itself.
    const auto hooks = extras->hooks->on_gradient;
    for (const auto& [id, hook] : hooks) {
        const Tensor<T> gradient = node.adjoint.tensor();
        const Tensor<T> replaced = hook(gradient);
        if (replaced.value_ptr() == gradient.value_ptr() &&
            replaced.node_ptr() == gradient.node_ptr())
            continue;
        if (!node.shape.view().equals(replaced.value_ptr()->shape())) {
            throw ShapeError(fmt::format("backward: a hook on the output of '{}' returned a "
                                         "gradient of shape {} for a tensor of shape {}",
                                         node.op, format_shape(replaced.value_ptr()->shape()),
                                         format_shape(node.shape.unpacked())));
        }
        node.adjoint = {replaced.value_ptr(), replaced.node_ptr()};
    }
}

/// Adds a node's complete adjoint into the gradient its tensor keeps (TensorMeta): in place
/// on the first-order path, as a recorded sum when either has a history.
template <class T> void accumulate_into(TensorMeta<T>& meta, Adjoint<T>& adjoint) {
    if (!meta.has_grad) {
        meta.grad = Tensor<T>(exclusive_value(adjoint.value), adjoint.history);
        meta.has_grad = true;
    } else if (!adjoint.history && !meta.grad.node_ptr()) {
        Value<T>& gradient = *meta.grad.value_ptr();
        xt::noalias(static_cast<Array<T>&>(gradient)) +=
            static_cast<const Array<T>&>(*adjoint.value);
        ++gradient.version;
    } else {
        meta.grad = meta.grad + adjoint.tensor();
    }
}

template <class T> void run_post_accumulate_hooks(Node<T>& leaf, TensorMeta<T>& meta) {
    NodeExtras<T>* extras = leaf.extras_if_any();
    if (!extras || !extras->hooks) return;
    const auto hooks = extras->hooks->after_accumulation;
    if (hooks.empty()) return;
    Tensor<T> tensor(meta.value.lock(), NodePtr<T>(&leaf), Ref<TensorMeta<T>>(&meta));
    for (const auto& [id, hook] : hooks) hook(tensor);
}

/// Runs the closures from the roots down, in an order where every consumer comes first.
template <class T>
void propagate(const SweepSettings& settings, const std::vector<Node<T>*>& targets,
               std::vector<Adjoint<T>>& captured, SweepLists<T>& lists) {
    while (!lists.ready.empty()) {
        Node<T>& node = *lists.ready.back();
        lists.ready.pop_back();
        bool ran = false;
        if (node.has_adjoint()) {
            run_hooks(node);
            for (std::size_t t = 0; t < targets.size(); ++t)
                if (targets[t] == &node) captured[t] = node.adjoint;
            NodeExtras<T>* extras = node.extras_if_any();
            if (settings.accumulate && extras && extras->meta) {
                accumulate_into(*extras->meta, node.adjoint);
                if (node.is_leaf()) run_post_accumulate_hooks(node, *extras->meta);
            }
            if (!node.is_leaf() && node.needed) {
                if (settings.create_graph) {
                    TensorGradients<T> gradients(node);
                    node.backward(gradients);
                } else {
                    ArrayGradients<T> gradients(node);
                    node.backward(gradients);
                }
                ran = true;
                if (anomaly_detection_enabled()) check_input_gradients(node);
            }
        }
        node.reset_adjoints();
        if (ran && !settings.retain_graph) node.release();
        for (std::size_t i = 0; i < node.inputs.size(); ++i) {
            Node<T>* input = node.inputs[i].get();
            if (input && --input->pending_consumers == 0) lists.ready.push_back(input);
        }
    }
}

/// The sweeps running on this thread (of either element type), innermost last, and those
/// deferred until they have all finished.
struct SweepsOfThisThread {
    std::vector<SweepSettings> running;
    std::vector<std::function<void()>> deferred;

    static SweepsOfThisThread& get() {
        thread_local SweepsOfThisThread sweeps;
        return sweeps;
    }
};

/// Marks a sweep as running for its lifetime; the outermost one runs the deferred sweeps
/// when it finishes, and drops them if it failed.
class RunningSweep {
public:
    explicit RunningSweep(const SweepSettings& settings) {
        SweepsOfThisThread::get().running.push_back(settings);
    }
    ~RunningSweep() {
        SweepsOfThisThread& sweeps = SweepsOfThisThread::get();
        sweeps.running.pop_back();
        if (sweeps.running.empty() && std::uncaught_exceptions() > 0) sweeps.deferred.clear();
    }
    RunningSweep(const RunningSweep&) = delete;
    RunningSweep& operator=(const RunningSweep&) = delete;

    /// Runs the deferred sweeps if this is the outermost sweep.
    void finish() {
        SweepsOfThisThread& sweeps = SweepsOfThisThread::get();
        if (sweeps.running.size() != 1) return;
        while (!sweeps.deferred.empty()) {
            std::function<void()> next = std::move(sweeps.deferred.back());
            sweeps.deferred.pop_back();
            next();
        }
    }
};

} // namespace

const SweepSettings& current_sweep() {
    return SweepsOfThisThread::get().running.back();
}

void defer_sweep(std::function<void()> sweep) {
    SweepsOfThisThread::get().deferred.push_back(std::move(sweep));
}

template <class T>
std::shared_ptr<Value<T>> exclusive_value(const std::shared_ptr<Value<T>>& value) {
    if (value.use_count() == 1) return value;
    return make_pooled<Value<T>>(static_cast<const Array<T>&>(*value));
}

namespace {

/// One sweep over the graph of the roots, with work lists of its own.
template <class T>
void sweep_graph(const std::vector<Root<T>>& roots, const SweepSettings& settings,
                 const std::vector<Node<T>*>& targets, std::vector<Adjoint<T>>& captured) {
    ListsInUse<T> lists;
    const std::uint64_t sweep = next_sweep_id();
    const bool pruning = !targets.empty();
    count_consumers(roots, sweep, pruning, *lists);
    if (pruning) mark_needed(roots, targets, sweep, *lists);

    // Recording follows create_graph for everything the sweep runs, hooks included.
    std::optional<NoGrad> no_recording;
    std::optional<EnableGrad> recording;
    if (settings.create_graph)
        recording.emplace();
    else
        no_recording.emplace();

    try {
        for (const Root<T>& root : roots)
            add_seed(root.node->adjoint, root.seed, settings.create_graph);
        for (const Root<T>& root : roots) {
            Node<T>* node = root.node;
            const bool listed =
                std::find(lists->ready.begin(), lists->ready.end(), node) != lists->ready.end();
            if (node->pending_consumers == 0 && !listed) lists->ready.push_back(node);
        }
        propagate(settings, targets, captured, *lists);
    } catch (...) {
        // A closure, a hook or an anomaly check threw: drop the partial adjoints so that a
        // later backward through a retained graph starts clean. (What already reached
        // gradients kept by tensors stays there.)
        for (Node<T>* node : lists->reached) node->reset_adjoints();
        throw;
    }
}

} // namespace

template <class T>
std::vector<Adjoint<T>> run_backward(const std::vector<Root<T>>& roots,
                                     const SweepSettings& settings,
                                     const std::vector<Node<T>*>& targets) {
    RunningSweep running(settings);
    std::vector<Adjoint<T>> captured(targets.size());
    sweep_graph(roots, settings, targets, captured);
    running.finish();
    return captured;
}

template std::shared_ptr<Value<float>> exclusive_value(const std::shared_ptr<Value<float>>&);
template std::shared_ptr<Value<double>> exclusive_value(const std::shared_ptr<Value<double>>&);
template std::vector<Adjoint<float>> run_backward(const std::vector<Root<float>>&,
                                                  const SweepSettings&,
                                                  const std::vector<Node<float>*>&);
template std::vector<Adjoint<double>> run_backward(const std::vector<Root<double>>&,
                                                   const SweepSettings&,
                                                   const std::vector<Node<double>*>&);

} // namespace tapegrad::detail

namespace tapegrad {

namespace {

template <class T> void require_node(const char* what, const Tensor<T>& tensor) {
    if (tensor.requires_grad()) return;
    throw GraphError(fmt::format(
        "{}: the tensor of shape {} does not require a gradient: no input it was computed from "
        "requires one, or it was computed under NoGrad",
        what, detail::format_shape(tensor.value_ptr()->shape())));
}

template <class T>
detail::Adjoint<T> seed_for(const char* what, const Tensor<T>& output, const Tensor<T>* seed) {
    const auto& shape = output.value_ptr()->shape();
    if (!seed) {
        if (output.size() != 1) {
            throw GraphError(fmt::format("{}: the tensor has shape {}; a tensor that is not one "
                                         "element needs a seed gradient of its shape",
                                         what, detail::format_shape(shape)));
        }
        return {detail::make_pooled<detail::Value<T>>(xt::ones<T>(shape)), nullptr};
    }
    if (!detail::same_shape<T>(seed->value_ptr()->shape(), shape)) {
        throw ShapeError(fmt::format("{}: seed shape {} does not match the tensor's shape {}", what,
                                     detail::format_shape(seed->value_ptr()->shape()),
                                     detail::format_shape(shape)));
    }
    return {seed->value_ptr(), seed->node_ptr()};
}

} // namespace

template <class T> void Tensor<T>::backward(const BackwardOptions& options) const {
    require_node("backward", *this);
    const detail::SweepSettings settings{options.retain_graph || options.create_graph,
                                         options.create_graph, true};
    detail::run_backward<T>({{node_.get(), seed_for<T>("backward", *this, nullptr)}}, settings, {});
}

template <class T>
void Tensor<T>::backward(const Tensor& seed, const BackwardOptions& options) const {
    require_node("backward", *this);
    const detail::SweepSettings settings{options.retain_graph || options.create_graph,
                                         options.create_graph, true};
    detail::run_backward<T>({{node_.get(), seed_for<T>("backward", *this, &seed)}}, settings, {});
}

template <class T> void Tensor<T>::backward(bool retain_graph) const {
    backward(BackwardOptions{retain_graph, false});
}

template <class T> void Tensor<T>::backward(const Tensor& seed, bool retain_graph) const {
    backward(seed, BackwardOptions{retain_graph, false});
}

namespace {

template <class T>
std::vector<Tensor<T>>
gradients_of(const std::vector<Tensor<T>>& outputs, const std::vector<Tensor<T>>& inputs,
             const std::vector<Tensor<T>>& grad_outputs, const GradOptions& options) {
    if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
        throw ValueError(fmt::format("grad: {} grad_outputs for {} outputs", grad_outputs.size(),
                                     outputs.size()));
    }
    std::vector<detail::Root<T>> roots;
    for (std::size_t k = 0; k < outputs.size(); ++k) {
        require_node("grad", outputs[k]);
        roots.push_back(
            {outputs[k].node_ptr().get(),
             seed_for<T>("grad", outputs[k], grad_outputs.empty() ? nullptr : &grad_outputs[k])});
    }
    std::vector<detail::Node<T>*> targets;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].requires_grad()) {
            throw GraphError(fmt::format("grad: input {} (shape {}) does not require a gradient", i,
                                         detail::format_shape(inputs[i].value_ptr()->shape())));
        }
        targets.push_back(inputs[i].node_ptr().get());
    }
    const detail::SweepSettings settings{options.retain_graph || options.create_graph,
                                         options.create_graph, false};
    std::vector<detail::Adjoint<T>> captured = detail::run_backward(roots, settings, targets);

    std::vector<Tensor<T>> gradients;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (captured[i]) {
            gradients.emplace_back(detail::exclusive_value(captured[i].value), captured[i].history);
        } else if (options.allow_unused) {
            gradients.push_back(Tensor<T>::zeros(inputs[i].shape()));
        } else {
            throw GraphError(fmt::format(
                "grad: input {} (shape {}) does not influence the outputs; pass allow_unused = "
                "true to get zeros for it",
                i, detail::format_shape(inputs[i].value_ptr()->shape())));
        }
    }
    return gradients;
}

} // namespace

std::vector<Tensor<double>> grad(const std::vector<Tensor<double>>& outputs,
                                 const std::vector<Tensor<double>>& inputs,
                                 const std::vector<Tensor<double>>& grad_outputs,
                                 const GradOptions& options) {
    return gradients_of(outputs, inputs, grad_outputs, options);
}

std::vector<Tensor<float>> grad(const std::vector<Tensor<float>>& outputs,
                                const std::vector<Tensor<float>>& inputs,
                                const std::vector<Tensor<float>>& grad_outputs,
                                const GradOptions& options) {
    return gradients_of(outputs, inputs, grad_outputs, options);
}

std::vector<Tensor<double>> grad(const Tensor<double>& output,
                                 const std::vector<Tensor<double>>& inputs,
                                 const GradOptions& options) {
    return gradients_of({output}, inputs, {}, options);
}

std::vector<Tensor<float>> grad(const Tensor<float>& output,
                                const std::vector<Tensor<float>>& inputs,
                                const GradOptions& options) {
    return gradients_of({output}, inputs, {}, options);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template void Tensor<T>::backward(bool) const;                                                 \
    template void Tensor<T>::backward(const BackwardOptions&) const;                               \
    template void Tensor<T>::backward(const Tensor<T>&, bool) const;                               \
    template void Tensor<T>::backward(const Tensor<T>&, const BackwardOptions&) const;
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad
