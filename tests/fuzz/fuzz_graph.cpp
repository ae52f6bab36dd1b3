// libFuzzer target for the graph engine and every op. The input is a short program of
// graph-building calls in double precision (with NoGrad and DetectAnomaly scopes), run by a
// small interpreter over a list of tensors; its ops are the rows of tests/support/op_table.hpp.
// Each call must either succeed or throw tapegrad::Error; any other exception escapes to
// libFuzzer as a finding.

#include "op_table.hpp"
#include "tapegrad/tapegrad.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

namespace {

using Tensor = tapegrad::Tensor<double>;
using namespace tapegrad::testing; // the op table

// Bounds that keep every input well under 10 ms: few calls on tiny tensors.
constexpr std::size_t kMaxCalls = 64;
constexpr std::size_t kMaxTensors = 16;
constexpr std::size_t kMaxRank = 3; // of created tensors; reshape may add one axis
constexpr std::size_t kMaxExtent = 4;
constexpr std::size_t kMaxScopeDepth = 4; // of NoGrad and of DetectAnomaly scopes

[[noreturn]] void fail(const char* problem) {
    std::fprintf(stderr, "fuzz_graph: %s\n", problem);
    std::abort();
}

/// The input bytes as a stream of choices. Past the end every read gives 0, so any input
/// is a complete program.
class Choices {
public:
    Choices(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    /// Bytes from here up pick the special cases of real(), axis() and permutation().
    static constexpr std::uint8_t kFirstSpecial = 0xF0;

    bool exhausted() const { return position_ >= size_; }
    std::uint8_t byte() { return exhausted() ? 0 : data_[position_++]; }
    bool flag() { return byte() & 1; }
    std::size_t below(std::size_t bound) { return byte() % bound; }

    /// Mostly multiples of 1/8 in [-15, 15); the top 16 byte values give what breaks naive
    /// arithmetic: NaN, infinities, extremes, subnormals, signed zero, exp overflow.
    double real() {
        constexpr double kInfinity = std::numeric_limits<double>::infinity();
        constexpr double kSpecial[] = {std::numeric_limits<double>::quiet_NaN(),
                                       kInfinity,
                                       -kInfinity,
                                       std::numeric_limits<double>::max(),
                                       std::numeric_limits<double>::lowest(),
                                       std::numeric_limits<double>::min(),
                                       std::numeric_limits<double>::denorm_min(),
                                       -0.0,
                                       1e300,
                                       -1e300,
                                       1e-300,
                                       710.0,
                                       -745.0,
                                       0.5,
                                       1.0,
                                       -1.0};
        const std::uint8_t b = byte();
        return b >= kFirstSpecial ? kSpecial[b - kFirstSpecial] : (b - 120) / 8.0;
    }

    tapegrad::Shape shape(std::size_t max_rank) {
        tapegrad::Shape dims(below(max_rank + 1));
        for (std::size_t& extent : dims) extent = below(kMaxExtent + 1);
        return dims;
    }

    /// Mostly in [-4, 4], which covers valid, negative and out-of-range axes; sometimes the
    /// extremes of int.
    int axis() {
        const std::uint8_t b = byte();
        if (b >= kFirstSpecial)
            return b & 1 ? std::numeric_limits<int>::max() : std::numeric_limits<int>::min();
        return static_cast<int>(b % 9) - 4;
    }

    tapegrad::Axes axes() {
        tapegrad::Axes list(below(5));
        for (int& a : list) a = axis();
        return list;
    }

    /// Often not a permutation: wrong length, repeated or huge entries.
    std::vector<std::size_t> permutation() {
        std::vector<std::size_t> order(below(5));
        for (std::size_t& entry : order) {
            const std::uint8_t b = byte();
            entry = b >= kFirstSpecial ? std::numeric_limits<std::size_t>::max() : b % 5;
        }
        return order;
    }

    /// One label per row or a wrong count; mostly small classes, and for a quarter of the
    /// bytes a negative or too large one.
    tapegrad::Labels labels(std::size_t rows) {
        constexpr std::int64_t kSpecial[] = {-1,
                                             -2,
                                             4,
                                             5,
                                             1000,
                                             -1000,
                                             std::numeric_limits<std::int64_t>::min(),
                                             std::numeric_limits<std::int64_t>::max()};
        tapegrad::Labels list(flag() ? rows : below(6));
        for (std::int64_t& label : list) {
            const std::uint8_t b = byte();
            label = b >= 0xC0 ? kSpecial[b % 8] : b % 4;
        }
        return list;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t position_ = 0;
};

// A call is chosen by one byte: below kCallCount one of these, above it the op of row
// (byte - kCallCount) of op_table(), its operands and then the arguments its written form
// names read from the bytes after it. The seed corpus in tests/fuzz/corpus/graph is written in
// this encoding: add new calls before `op_rows_follow` and new ops at the end of the table's
// rows, which changes the meaning of the corpus as little as it can.
enum class Call : std::uint8_t {
    create = 0,
    backward = 1,
    no_grad = 2,
    detach = 3,
    set_requires_grad = 4,
    zero_grad = 5,
    grad = 6,
    item = 7,
    detect_anomaly = 8,
    second_order = 9,
    op_rows_follow = 10,
};
constexpr std::size_t kCallCount = static_cast<std::size_t>(Call::op_rows_follow);

// How `create` makes its tensor; likewise part of the corpus encoding.
enum class Creation : std::uint8_t {
    zeros = 0,
    ones = 1,
    full = 2,
    scalar = 3,
    from_values = 4,
    from_one_value_too_many = 5,
};
constexpr std::size_t kCreationCount =
    static_cast<std::size_t>(Creation::from_one_value_too_many) + 1;

/// Runs the program in its Choices: up to kMaxCalls calls, each on tensors of the list. A
/// call reads all its bytes before it runs, so the meaning of the bytes after it does not
/// depend on whether it throws.
class Program {
public:
    explicit Program(Choices& choices) : in_(choices) {}

    void run() {
        for (std::size_t calls = 0; calls < kMaxCalls && !in_.exhausted(); ++calls) {
            try {
                const std::size_t code = in_.below(kCallCount + op_table().size());
                if (code < kCallCount) {
                    call(static_cast<Call>(code));
                } else {
                    call_op(op_table()[code - kCallCount]);
                }
            } catch (const tapegrad::Error&) {
                // the documented way for a call to refuse its arguments
            }
            // Freed tensor buffers wait in a block cache that ASan cannot see into; handing
            // them back to malloc after each call lets it catch a later use of one.
            tapegrad::release_cached_memory();
        }
        // Innermost first, so that each scope restores the mode it found.
        while (!no_grad_scopes_.empty()) no_grad_scopes_.pop_back();
        while (!anomaly_scopes_.empty()) anomaly_scopes_.pop_back();
    }

private:
    void call(Call kind) {
        switch (kind) {
        case Call::create:
            push(create());
            break;
        case Call::backward:
            backward();
            break;
        case Call::no_grad:
            open_or_close(no_grad_scopes_);
            break;
        case Call::detach:
            push(operand().detach());
            break;
        case Call::set_requires_grad: {
            // On the stored handle itself: a copy would change only the copy.
            Tensor& x = tensors_[index()];
            x.set_requires_grad(in_.flag());
            break;
        }
        case Call::zero_grad:
            operand().zero_grad();
            break;
        case Call::grad: {
            const Tensor x = operand();
            const Tensor gradient = x.grad();
            if (gradient.shape() != x.shape()) fail("grad() has another shape than its tensor");
            push(gradient);
            break;
        }
        case Call::item: {
            const Tensor x = operand();
            const bool requires_grad = in_.flag();
            push(Tensor::scalar(x.item(), requires_grad));
            break;
        }
        case Call::detect_anomaly:
            open_or_close(anomaly_scopes_);
            break;
        case Call::second_order: {
            // The gradient of a sum of an operand, recorded, then differentiated again.
            const Tensor x = operand();
            tapegrad::GradOptions options;
            options.create_graph = true;
            options.allow_unused = in_.flag();
            const std::vector<Tensor> g = tapegrad::grad(tapegrad::sum(x * x * x), {x}, options);
            push(g[0]);
            break;
        }
        case Call::op_rows_follow:
            break;
        }
    }

    /// The op of `row` on operands from the list, then the arguments its form names. An op
    /// on images may get each operand reshaped to an image first.
    void call_op(const OpRow& row) {
        const std::vector<Argument> arguments = arguments_of(row);
        const bool on_images =
            std::find(arguments.begin(), arguments.end(), Argument::window) != arguments.end();
        Operands x(operand_count(row));
        for (Tensor& operand_k : x) operand_k = on_images ? image(operand()) : operand();
        OpArguments a;
        for (Argument argument : arguments) read(argument, a, x);
        push(row.call(x, a));
    }

    void read(Argument argument, OpArguments& a, const Operands& x) {
        switch (argument) {
        case Argument::scalar:
            a.scalar = in_.real();
            return;
        case Argument::upper:
            a.upper = in_.real();
            return;
        case Argument::axes:
            a.axes = in_.axes();
            return;
        case Argument::axis:
            a.axes = {in_.axis()};
            return;
        case Argument::axis_range: {
            const int first = in_.axis(), last = in_.axis(); // read in this order
            a.axes = {first, last};
            return;
        }
        case Argument::keepdims:
            a.keepdims = in_.flag();
            return;
        case Argument::shape:
            a.shape_argument = in_.shape(kMaxRank + 1);
            return;
        case Argument::permutation:
            a.shape_argument = in_.permutation();
            return;
        case Argument::start:
            a.start = in_.below(kMaxExtent + 1);
            return;
        case Argument::length:
            a.length = in_.below(kMaxExtent + 1);
            return;
        case Argument::stop:
            a.stop = in_.below(kMaxExtent + 2);
            return;
        case Argument::step:
            a.step = in_.below(3); // 0 included
            return;
        case Argument::sizes: // at least one piece, so that there is a part to take
            a.shape_argument = tapegrad::Shape(1 + in_.below(4));
            for (std::size_t& size : a.shape_argument) size = in_.below(kMaxExtent + 1);
            return;
        case Argument::part: // read after {sizes}
            a.start = in_.below(std::max<std::size_t>(a.shape_argument.size(), 1));
            return;
        case Argument::labels:
        case Argument::indices:
            a.labels = in_.labels(rows(x.at(0)));
            return;
        case Argument::kernel:
            a.kernel = in_.below(4);
            return;
        case Argument::window:
            a.window.stride = in_.below(3);
            a.window.padding = in_.below(3);
            return;
        case Argument::dilation:
            a.window.dilation = in_.below(3);
            return;
        case Argument::statistics:
            a.statistics = in_.shape(1);
            return;
        case Argument::training:
            a.training = in_.flag();
            return;
        }
    }

    /// `x`, or x reshaped to an image shape (N, C, H, W) read from the input.
    Tensor image(const Tensor& x) {
        if (!in_.flag()) return x;
        tapegrad::Shape shape(4);
        for (std::size_t& extent : shape) extent = in_.below(kMaxExtent + 1);
        return tapegrad::reshape(x, shape);
    }

    // Opens one more scope (up to kMaxScopeDepth) or closes the innermost one.
    template <class Scope> void open_or_close(std::vector<std::unique_ptr<Scope>>& scopes) {
        if (in_.flag()) {
            if (scopes.size() < kMaxScopeDepth) scopes.push_back(std::make_unique<Scope>());
        } else if (!scopes.empty()) {
            scopes.pop_back();
        }
    }

    Tensor create() {
        const auto kind = static_cast<Creation>(in_.below(kCreationCount));
        const tapegrad::Shape shape = in_.shape(kMaxRank);
        const bool requires_grad = in_.flag();
        switch (kind) {
        case Creation::zeros:
            return Tensor::zeros(shape, requires_grad);
        case Creation::ones:
            return Tensor::ones(shape, requires_grad);
        case Creation::full:
            return Tensor::full(shape, in_.real(), requires_grad);
        case Creation::scalar:
            return Tensor::scalar(in_.real(), requires_grad);
        case Creation::from_values:
        case Creation::from_one_value_too_many:
            break;
        }
        std::size_t count = kind == Creation::from_one_value_too_many ? 1 : 0;
        count += std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>());
        std::vector<double> values(count);
        for (double& value : values) value = in_.real();
        return Tensor(shape, std::move(values), requires_grad);
    }

    // With no seed or a seed from the list; retained or not; once or twice in a row, so that
    // a second sweep meets a freed or a retained graph.
    void backward() {
        Tensor root = operand();
        const bool seeded = in_.flag();
        const Tensor seed = seeded ? operand() : Tensor();
        const bool retain_graph = in_.flag();
        const std::size_t sweeps = 1 + in_.below(2);
        for (std::size_t i = 0; i < sweeps; ++i) {
            if (seeded) {
                root.backward(seed, retain_graph);
            } else {
                root.backward(retain_graph);
            }
        }
    }

    static std::size_t rows(const Tensor& x) { return x.rank() == 0 ? 1 : x.shape()[0]; }

    // An index into the list chosen by the next byte; an empty list first gets a scalar 0.
    std::size_t index() {
        if (tensors_.empty()) tensors_.emplace_back();
        return in_.below(tensors_.size());
    }

    Tensor operand() { return tensors_[index()]; }

    // Once the list is full, results overwrite its slots in turn.
    void push(Tensor tensor) {
        if (tensors_.size() < kMaxTensors) {
            tensors_.push_back(std::move(tensor));
        } else {
            tensors_[next_overwritten_++ % kMaxTensors] = std::move(tensor);
        }
    }

    Choices& in_;
    std::vector<Tensor> tensors_;
    std::size_t next_overwritten_ = 0;
    std::vector<std::unique_ptr<tapegrad::NoGrad>> no_grad_scopes_;
    std::vector<std::unique_ptr<tapegrad::DetectAnomaly>> anomaly_scopes_;
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Tiny products gain nothing from BLAS threads, and one thread keeps runs reproducible.
    tapegrad::set_num_threads(1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Choices choices(data, size);
    Program(choices).run();
    tapegrad::release_cached_memory();
    if (!tapegrad::grad_enabled() || tapegrad::anomaly_detection_enabled()) {
        fail("a mode is still changed after every NoGrad and DetectAnomaly scope ended");
    }
    return 0;
}
