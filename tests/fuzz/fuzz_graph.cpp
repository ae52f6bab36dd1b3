// libFuzzer target for the graph engine and every op. The input is a short program of
// graph-building calls in double precision (with NoGrad and DetectAnomaly scopes), run by a
// small interpreter over a list of tensors. Each call must either succeed or throw tapegrad::Error;
// any other exception escapes to libFuzzer as a finding.

#include "tapegrad/tapegrad.hpp"

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

    template <class Option, std::size_t N> const Option& one_of(const Option (&options)[N]) {
        return options[below(N)];
    }

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

// The opcodes' numbers are the encoding of the seed corpus in tests/fuzz/corpus/graph: append new
// ones at the end (and update kOpcodeCount), never renumber.
enum class Opcode : std::uint8_t {
    create = 0,
    arithmetic = 1,
    negate = 2,
    scalar_arithmetic = 3,
    power = 4,
    elementwise = 5,
    leaky_relu = 6,
    elu = 7,
    matmul = 8,
    transpose = 9,
    reshape = 10,
    linear = 11,
    sum = 12,
    mean = 13,
    max = 14,
    softmax = 15,
    cross_entropy = 16,
    softmax_cross_entropy = 17,
    nll_loss = 18,
    mse_loss = 19,
    backward = 20,
    no_grad = 21,
    detach = 22,
    set_requires_grad = 23,
    zero_grad = 24,
    grad = 25,
    item = 26,
    detect_anomaly = 27,
    conv2d = 28,
    pool = 29,
    batch_norm = 30,
    select = 31,
    join = 32,
    second_order = 33,
};
constexpr std::size_t kOpcodeCount = static_cast<std::size_t>(Opcode::second_order) + 1;

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

using Binary = Tensor (*)(const Tensor&, const Tensor&);
using WithScalar = Tensor (*)(const Tensor&, double);
using Unary = Tensor (*)(const Tensor&);
using AlongAxis = Tensor (*)(const Tensor&, int);

constexpr Binary kArithmetic[] = {
    [](const Tensor& a, const Tensor& b) { return a + b; },
    [](const Tensor& a, const Tensor& b) { return a - b; },
    [](const Tensor& a, const Tensor& b) { return a * b; },
    [](const Tensor& a, const Tensor& b) { return a / b; },
};

constexpr WithScalar kScalarArithmetic[] = {
    [](const Tensor& x, double s) { return x + s; },
    [](const Tensor& x, double s) { return s + x; },
    [](const Tensor& x, double s) { return x - s; },
    [](const Tensor& x, double s) { return s - x; },
    [](const Tensor& x, double s) { return x * s; },
    [](const Tensor& x, double s) { return s * x; },
    [](const Tensor& x, double s) { return x / s; },
    [](const Tensor& x, double s) { return s / x; },
};

constexpr Unary kElementwise[] = {&tapegrad::relu<double>,    &tapegrad::tanh<double>,
                                  &tapegrad::sigmoid<double>, &tapegrad::exp<double>,
                                  &tapegrad::log<double>,     &tapegrad::sqrt<double>,
                                  &tapegrad::abs<double>};

constexpr AlongAxis kSoftmax[] = {&tapegrad::softmax<double>, &tapegrad::log_softmax<double>};

/// Runs the program in its Choices: up to kMaxCalls calls, each on tensors of the list. A
/// call reads all its bytes before it runs, so the meaning of the bytes after it does not
/// depend on whether it throws.
class Program {
public:
    explicit Program(Choices& choices) : in_(choices) {}

    void run() {
        for (std::size_t calls = 0; calls < kMaxCalls && !in_.exhausted(); ++calls) {
            try {
                step(static_cast<Opcode>(in_.below(kOpcodeCount)));
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
    void step(Opcode opcode) {
        switch (opcode) {
        case Opcode::create:
            push(create());
            break;
        case Opcode::arithmetic: {
            const Tensor a = operand();
            const Tensor b = operand();
            push(in_.one_of(kArithmetic)(a, b));
            break;
        }
        case Opcode::negate:
            push(-operand());
            break;
        case Opcode::scalar_arithmetic: {
            const Tensor x = operand();
            const WithScalar form = in_.one_of(kScalarArithmetic);
            push(form(x, in_.real()));
            break;
        }
        case Opcode::power: {
            const Tensor x = operand();
            push(tapegrad::pow(x, in_.real()));
            break;
        }
        case Opcode::elementwise: {
            const Tensor x = operand();
            push(in_.one_of(kElementwise)(x));
            break;
        }
        case Opcode::leaky_relu: {
            const Tensor x = operand();
            push(tapegrad::leaky_relu(x, in_.real()));
            break;
        }
        case Opcode::elu: {
            const Tensor x = operand();
            push(tapegrad::elu(x, in_.real()));
            break;
        }
        case Opcode::matmul: {
            const Tensor a = operand();
            const Tensor b = operand();
            push(tapegrad::matmul(a, b));
            break;
        }
        case Opcode::transpose: {
            const Tensor x = operand();
            push(in_.flag() ? tapegrad::transpose(x) : tapegrad::transpose(x, in_.permutation()));
            break;
        }
        case Opcode::reshape: {
            const Tensor x = operand();
            push(tapegrad::reshape(x, in_.shape(kMaxRank + 1)));
            break;
        }
        case Opcode::linear: {
            const Tensor x = operand();
            const Tensor w = operand();
            if (in_.flag()) {
                const Tensor b = operand();
                push(tapegrad::linear(x, w, b));
            } else {
                push(tapegrad::linear(x, w));
            }
            break;
        }
        case Opcode::sum:
            reduce(&tapegrad::sum<double>, &tapegrad::sum<double>);
            break;
        case Opcode::mean:
            reduce(&tapegrad::mean<double>, &tapegrad::mean<double>);
            break;
        case Opcode::max: {
            const Tensor x = operand();
            const int axis = in_.axis();
            push(tapegrad::max(x, axis, in_.flag()));
            break;
        }
        case Opcode::softmax: {
            const Tensor x = operand();
            const AlongAxis function = in_.one_of(kSoftmax);
            push(function(x, in_.axis()));
            break;
        }
        case Opcode::cross_entropy: {
            const Tensor p = operand();
            const Tensor t = operand();
            push(tapegrad::cross_entropy(p, t));
            break;
        }
        case Opcode::softmax_cross_entropy: {
            const Tensor z = operand();
            if (in_.flag()) {
                const Tensor t = operand();
                push(tapegrad::softmax_cross_entropy(z, t));
            } else {
                push(tapegrad::softmax_cross_entropy(z, in_.labels(rows(z))));
            }
            break;
        }
        case Opcode::nll_loss: {
            const Tensor x = operand();
            push(tapegrad::nll_loss(x, in_.labels(rows(x))));
            break;
        }
        case Opcode::mse_loss: {
            const Tensor p = operand();
            const Tensor t = operand();
            push(tapegrad::mse_loss(p, t));
            break;
        }
        case Opcode::backward:
            backward();
            break;
        case Opcode::no_grad:
            open_or_close(no_grad_scopes_);
            break;
        case Opcode::detach:
            push(operand().detach());
            break;
        case Opcode::set_requires_grad: {
            // On the stored handle itself: a copy would change only the copy.
            Tensor& x = tensors_[index()];
            x.set_requires_grad(in_.flag());
            break;
        }
        case Opcode::zero_grad:
            operand().zero_grad();
            break;
        case Opcode::grad: {
            const Tensor x = operand();
            const Tensor gradient = x.grad();
            if (gradient.shape() != x.shape()) fail("grad() has another shape than its tensor");
            push(gradient);
            break;
        }
        case Opcode::item: {
            const Tensor x = operand();
            const bool requires_grad = in_.flag();
            push(Tensor::scalar(x.item(), requires_grad));
            break;
        }
        case Opcode::detect_anomaly:
            open_or_close(anomaly_scopes_);
            break;
        case Opcode::conv2d: {
            const Tensor x = image(operand());
            const Tensor w = image(operand());
            const tapegrad::Conv2dOptions options{in_.below(3), in_.below(3), in_.below(3)};
            if (in_.flag()) {
                const Tensor b = operand();
                push(tapegrad::conv2d(x, w, b, options));
            } else {
                push(tapegrad::conv2d(x, w, options));
            }
            break;
        }
        case Opcode::pool: {
            const Tensor x = image(operand());
            const std::size_t kernel = in_.below(4), stride = in_.below(3), padding = in_.below(3);
            push(in_.flag() ? tapegrad::max_pool2d(x, kernel, stride, padding)
                            : tapegrad::avg_pool2d(x, kernel, stride, padding));
            break;
        }
        case Opcode::batch_norm: {
            const Tensor x = operand();
            const Tensor gamma = operand();
            const Tensor beta = operand();
            Tensor running_mean = tapegrad::Tensor<double>::zeros(in_.shape(1));
            Tensor running_var = tapegrad::Tensor<double>::ones(running_mean.shape());
            push(tapegrad::batch_norm(x, gamma, beta, running_mean, running_var, in_.flag()));
            break;
        }
        case Opcode::select: {
            const Tensor x = operand();
            const int axis = in_.axis();
            const std::size_t start = in_.below(kMaxExtent + 1), length = in_.below(kMaxExtent + 1);
            switch (in_.below(4)) {
            case 0:
                push(tapegrad::narrow(x, axis, start, length));
                break;
            case 1:
                push(tapegrad::select(x, axis, start));
                break;
            case 2:
                push(tapegrad::index_select(x, axis, in_.labels(length)));
                break;
            default:
                push(tapegrad::clamp(x, in_.real(), in_.real()));
                break;
            }
            break;
        }
        case Opcode::join: {
            std::vector<Tensor> parts(1 + in_.below(3));
            for (Tensor& part : parts) part = operand();
            const int axis = in_.axis();
            push(in_.flag() ? tapegrad::cat(parts, axis) : tapegrad::stack(parts, axis));
            break;
        }
        case Opcode::second_order: {
            // The gradient of a sum of an operand, recorded, then differentiated again.
            const Tensor x = operand();
            tapegrad::GradOptions options;
            options.create_graph = true;
            options.allow_unused = in_.flag();
            const std::vector<Tensor> g = tapegrad::grad(tapegrad::sum(x * x * x), {x}, options);
            push(g[0]);
            break;
        }
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

    // The whole-tensor and the along-axes form of a reduction.
    void reduce(Tensor (*whole)(const Tensor&),
                Tensor (*along)(const Tensor&, const tapegrad::Axes&, bool)) {
        const Tensor x = operand();
        if (in_.flag()) {
            push(whole(x));
            return;
        }
        const tapegrad::Axes axes = in_.axes();
        push(along(x, axes, in_.flag()));
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
