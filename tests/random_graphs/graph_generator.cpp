// Builds random programs by evaluating each step as soon as it is emitted: every later
// choice looks at actual values, so operands are steered away from kinks, poles and ties by
// shifting them (an emitted `x + c` step), and values that grow are scaled back.

#include "graph_generator.hpp"

#include "random_tensors.hpp"
#include "tapegrad/detail/shape.hpp"
#include "tapegrad/grad_mode.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>

namespace tapegrad::testing {

namespace {

// Finite differences move an intermediate value by eps (1e-6) times its derivative with
// respect to an input; the margins below leave room for derivatives up to about 1e4.
constexpr double kink_margin = 0.1;    // relu, abs, leaky_relu, elu: |x| >= this
constexpr double pole_margin = 0.2;    // divisors, negative powers: |x| >= this
constexpr double positive_floor = 0.2; // log, sqrt, fractional powers: x >= this
constexpr double max_gap = 0.1;        // max: the top two of each reduced line differ by this
// Computed values beyond this are only read through a step that scales them back, which
// keeps the rounding errors of finite differences (relative to the values) far below atol.
constexpr double magnitude_bound = 4;
constexpr std::size_t max_value_elements = 96; // keeps the whole run fast
constexpr std::size_t max_input_elements = 32;
constexpr std::size_t min_planned_steps = 4;
constexpr std::size_t max_planned_steps = 40; // plus the steps that fold in unread values

std::size_t element_count(const Shape& shape) {
    return std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
}

/// NumPy's broadcast of two shapes, or nothing when they are incompatible.
std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (std::size_t k = 0; k < rank; ++k) {
        const std::size_t ea = k + a.size() >= rank ? a[k + a.size() - rank] : 1;
        const std::size_t eb = k + b.size() >= rank ? b[k + b.size() - rank] : 1;
        if (ea != eb && ea != 1 && eb != 1) return std::nullopt;
        out[k] = std::max(ea, eb);
    }
    return out;
}

std::string expression(const Step& step) {
    switch (step.source) {
    case Source::input:
        return "input " + std::to_string(step.slot);
    case Source::constant:
        return "constant " + std::to_string(step.slot);
    case Source::op:
        break;
    }
    std::vector<std::string> operands;
    for (std::size_t v : step.operands) operands.push_back("v" + std::to_string(v));
    return written_call(op_row(step.op), operands, step);
}

Tensor<double> evaluate(const Step& step, const std::vector<Tensor<double>>& values,
                        const std::vector<Tensor<double>>& inputs,
                        const std::vector<Tensor<double>>& constants) {
    switch (step.source) {
    case Source::input:
        return inputs[step.slot];
    case Source::constant:
        return constants[step.slot];
    case Source::op:
        break;
    }
    Operands operands;
    for (std::size_t v : step.operands) operands.push_back(values[v]);
    return op_row(step.op).call(operands, step);
}

Step unary(Op op, std::size_t x, double scalar = 0) {
    Step step;
    step.op = op;
    step.operands = {x};
    step.scalar = scalar;
    return step;
}

Step binary(Op op, std::size_t a, std::size_t b) {
    Step step;
    step.op = op;
    step.operands = {a, b};
    return step;
}

Step with_axes(Op op, std::size_t x, Axes axes, bool keepdims) {
    Step step = unary(op, x);
    step.axes = std::move(axes);
    step.keepdims = keepdims;
    return step;
}

std::string describe(Domain domain) {
    switch (domain) {
    case Domain::any:
        return "normal(0, 1)";
    case Domain::away_from_zero:
        return "|x| in [0.2, 2]";
    case Domain::positive:
        return "in [0.2, 2]";
    }
    throw std::logic_error("describe: unknown domain");
}

double round_up(double x, double unit) {
    return std::ceil(x / unit) * unit;
}

/// Positive `x` rounded up or down to three significant digits, for readable factors.
double three_digits(double x, bool up) {
    const double unit = std::pow(10.0, std::floor(std::log10(x)) - 2);
    return up ? round_up(x, unit) : std::floor(x / unit) * unit;
}

/// Chooses and emits the steps of one program; see the comment at the top of this file.
class Builder {
public:
    explicit Builder(std::uint64_t seed) : rng_(seed) {}

    Program build() {
        NoGrad no_grad; // the builder needs values, not graphs
        input_budget_ = one_of<std::size_t>({1, 2, 2, 3, 3, 4, 4});
        add_input(random_input_shape(),
                  one_of<Domain>({Domain::any, Domain::away_from_zero, Domain::positive}));
        const std::size_t planned_ops = uniform(min_planned_steps, max_planned_steps);
        std::vector<double> weights;
        for (const OpRow& row : op_table()) weights.push_back(row.weight);
        std::discrete_distribution<std::size_t> next_op(weights.begin(), weights.end());
        while (program_.op_count() < planned_ops) try_op(op_table()[next_op(rng_)].op);
        fold_unread_values();
        return std::move(program_);
    }

private:
    using Value = std::size_t; // v_i is values_[i], defined by program_.steps[i]

    // Random draws.
    std::size_t uniform(std::size_t low, std::size_t high) {
        return std::uniform_int_distribution<std::size_t>(low, high)(rng_);
    }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
    template <class T> T one_of(const std::vector<T>& items) {
        return items[uniform(0, items.size() - 1)];
    }
    /// A readable scalar: |s| in [low, high] with two decimals, random sign.
    double signed_scalar(double low, double high) {
        const double magnitude =
            std::round(std::uniform_real_distribution<double>(low, high)(rng_) * 100) / 100;
        return chance(0.5) ? -magnitude : magnitude;
    }
    /// A generator for the helpers of random_tensors.hpp, which take std::mt19937.
    std::mt19937 derived_rng() { return std::mt19937(static_cast<std::uint32_t>(rng_())); }
    /// Axis k of a tensor of rank `rank`, counted from the end (negative) at times.
    int signed_axis(std::size_t k, std::size_t rank) {
        return chance(0.3) ? int(k) - int(rank) : int(k);
    }
    int random_axis(std::size_t rank) { return signed_axis(uniform(0, rank - 1), rank); }
    /// Some of the axes of a rank >= 1 tensor, in random order; empty only if `allow_empty`.
    Axes random_axes(std::size_t rank, bool allow_empty) {
        Axes axes;
        for (std::size_t k = 0; k < rank; ++k) {
            if (chance(0.5)) axes.push_back(signed_axis(k, rank));
        }
        if (axes.empty() && !(allow_empty && chance(0.2))) axes.push_back(random_axis(rank));
        std::shuffle(axes.begin(), axes.end(), rng_);
        return axes;
    }
    Shape random_input_shape() {
        Shape extents(one_of<std::size_t>({0, 1, 2, 2, 2, 3, 3}));
        for (std::size_t& extent : extents) extent = chance(0.2) ? 1 : uniform(2, 5);
        while (element_count(extents) > max_input_elements)
            --*std::max_element(extents.begin(), extents.end());
        return extents;
    }
    /// A shape that broadcasts with `a`: some extents of `a` replaced by 1, extents of 1 in
    /// `a` replaced by others (so both operands broadcast), leading axes dropped or added.
    Shape broadcast_shape_for(const Shape& a) {
        if (chance(0.1)) return {};
        Shape b;
        for (std::size_t extent : a)
            b.push_back(extent == 1 ? uniform(1, 3) : (chance(0.35) ? 1 : extent));
        if (!b.empty() && chance(0.3))
            b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(uniform(1, b.size())));
        else if (b.size() < 3 && chance(0.2))
            b.insert(b.begin(), uniform(1, 3));
        return b;
    }
    /// A shape of `count` elements and rank up to 3 (size-1 axes included).
    Shape random_reshape(std::size_t count) {
        std::vector<std::size_t> primes;
        for (std::size_t p = 2; count > 1; ++p) {
            for (; count % p == 0; count /= p) primes.push_back(p);
        }
        Shape extents(uniform(primes.empty() ? 0 : 1, 3), 1);
        for (std::size_t p : primes) extents[uniform(0, extents.size() - 1)] *= p;
        return extents;
    }
    Labels random_labels(const Shape& rows_and_classes) {
        Labels labels(rows_and_classes[0]);
        for (auto& label : labels) label = std::int64_t(uniform(0, rows_and_classes[1] - 1));
        return labels;
    }

    // Values.
    const Shape& shape(Value v) const { return program_.steps[v].shape; }
    std::size_t rank(Value v) const { return shape(v).size(); }
    std::vector<double> elements(Value v) const { return values_[v].to_vector(); }
    /// Whether a step may read `v`. Inputs always may (a normal draw can exceed the bound
    /// slightly; the first step needs an operand), constants only as loss targets.
    bool usable(Value v) const {
        const Source source = program_.steps[v].source;
        return source == Source::input ||
               (source == Source::op && magnitude_[v] <= magnitude_bound);
    }
    bool can_add_input(const Shape& s) const {
        return program_.inputs.size() < input_budget_ && element_count(s) <= max_input_elements;
    }

    /// Appends `step` and evaluates it.
    Value emit(Step step) {
        const Tensor<double> value = evaluate(step, values_, program_.inputs, program_.constants);
        step.shape = value.shape();
        double largest = 0;
        for (double x : value.to_vector()) largest = std::max(largest, std::abs(x));
        for (Value operand : step.operands) ++uses_[operand];
        program_.steps.push_back(std::move(step));
        values_.push_back(value);
        magnitude_.push_back(largest);
        uses_.push_back(0);
        return values_.size() - 1;
    }

    /// Emits `step`, then, if its value grew beyond magnitude_bound, a step that scales it
    /// into [-2, 2].
    Value emit_bounded(Step step) {
        const Value v = emit(std::move(step));
        const double largest = magnitude_[v];
        if (largest <= magnitude_bound) return v;
        // Scaled rather than squashed: tanh or sigmoid would saturate and hide the gradients
        // behind them.
        return chance(0.5) ? emit(unary(Op::div_scalar, v, three_digits(largest / 2, true)))
                           : emit(unary(Op::mul_scalar, v, three_digits(2 / largest, false)));
    }

    Value add_input(const Shape& s, Domain domain) {
        std::mt19937 rng = derived_rng();
        program_.inputs.push_back(random_tensor<double>(s, rng, domain));
        Step step;
        step.source = Source::input;
        step.slot = program_.inputs.size() - 1;
        step.note = describe(domain);
        return emit(std::move(step));
    }

    Value add_constant(Tensor<double> constant, std::string note) {
        program_.constants.push_back(std::move(constant));
        Step step;
        step.source = Source::constant;
        step.slot = program_.constants.size() - 1;
        step.note = std::move(note);
        return emit(std::move(step));
    }

    std::vector<Value> candidates(const std::function<bool(Value)>& fits) const {
        std::vector<Value> found;
        for (Value v = 0; v < values_.size(); ++v) {
            if (usable(v) && fits(v)) found.push_back(v);
        }
        return found;
    }

    /// The first operand of a step: most often the newest value that fits (this builds
    /// depth), else one that no step reads yet, else any (reuse).
    std::optional<Value> pick(const std::function<bool(Value)>& fits) {
        const std::vector<Value> found = candidates(fits);
        if (found.empty()) return std::nullopt;
        if (chance(0.5)) return found.back();
        std::vector<Value> unread;
        std::copy_if(found.begin(), found.end(), std::back_inserter(unread),
                     [this](Value v) { return uses_[v] == 0; });
        return one_of(!unread.empty() && chance(0.6) ? unread : found);
    }

    /// A further operand: any value that fits, uniformly, so values get reused.
    std::optional<Value> pick_partner(const std::function<bool(Value)>& fits) {
        const std::vector<Value> found = candidates(fits);
        if (found.empty()) return std::nullopt;
        return one_of(found);
    }

    /// x + c, as one of the scalar forms.
    Value shifted(Value x, double c) {
        if (c < 0) return emit(unary(Op::sub_scalar, x, -c));
        return emit(unary(chance(0.5) ? Op::add_scalar : Op::scalar_add, x, c));
    }

    /// Nothing if |e| >= margin for every element e, else a shift t (two decimals) that moves
    /// zero into a gap of the sorted elements wider than 2 margin, or below or above all of
    /// them: |e + t| >= margin for all. With `some_positive`, some e + t > 0 as well.
    std::optional<double> shift_clear_of_zero(std::vector<double> e, double margin,
                                              bool some_positive) {
        std::sort(e.begin(), e.end());
        const bool clear =
            std::all_of(e.begin(), e.end(), [margin](double y) { return std::abs(y) >= margin; });
        if (clear && (!some_positive || e.back() > 0)) return std::nullopt;
        // Shifts rounded to two decimals; the 0.01 of slack covers the rounding.
        std::vector<double> shifts{round_up(margin - e.front(), 0.01)};
        if (!some_positive) shifts.push_back(-round_up(margin + e.back(), 0.01));
        for (std::size_t i = 0; i + 1 < e.size(); ++i) {
            if (e[i + 1] - e[i] >= 2 * margin + 0.02)
                shifts.push_back(-std::round((e[i] + e[i + 1]) * 50) / 100);
        }
        return one_of(shifts);
    }

    /// `x`, shifted if needed so that |x| >= margin everywhere (see shift_clear_of_zero).
    Value away_from_zero(Value x, double margin, bool some_positive = false) {
        const auto shift = shift_clear_of_zero(elements(x), margin, some_positive);
        return shift ? shifted(x, *shift) : x;
    }

    /// `b`, shifted if needed so that |a - b| >= margin everywhere (broadcast): maximum and
    /// minimum jump where a and b meet.
    Value apart_from(Value a, Value b, double margin) {
        const auto shift =
            shift_clear_of_zero((values_[a] - values_[b]).to_vector(), margin, false);
        return shift ? shifted(b, -*shift) : b;
    }

    /// `x` if x >= floor everywhere, else x shifted up to that.
    Value at_least(Value x, double floor) {
        const std::vector<double> e = elements(x);
        const double smallest = *std::min_element(e.begin(), e.end());
        return smallest >= floor ? x : shifted(x, round_up(floor - smallest, 0.01));
    }

    /// Bounds for clamp that lie at least kink_margin from every element of `x`, ascending:
    /// one below all elements, the middles of wide gaps between them, one above all.
    std::vector<double> clear_bounds(Value x) const {
        std::vector<double> e = elements(x);
        std::sort(e.begin(), e.end());
        std::vector<double> bounds{std::floor((e.front() - 2 * kink_margin) * 100) / 100};
        for (std::size_t i = 0; i + 1 < e.size(); ++i) {
            if (e[i + 1] - e[i] >= 2 * kink_margin + 0.02)
                bounds.push_back(std::round((e[i] + e[i + 1]) * 50) / 100);
        }
        bounds.push_back(std::ceil((e.back() + 2 * kink_margin) * 100) / 100);
        return bounds;
    }

    /// The axes of `v` along which max (or min, if not `largest`) has no near-tie: the top
    /// (bottom) two elements of every line differ by at least max_gap, or the axis has
    /// extent 1.
    std::vector<std::size_t> tie_free_axes(Value v, bool largest) const {
        const Shape& s = shape(v);
        std::vector<double> e = elements(v);
        if (!largest)
            for (double& y : e) y = -y;
        std::vector<std::size_t> axes;
        for (std::size_t k = 0; k < s.size(); ++k) {
            const std::size_t extent = s[k];
            const std::size_t inner = element_count(Shape(s.begin() + long(k) + 1, s.end()));
            const std::size_t outer = e.size() / (extent * inner);
            bool clear = true;
            for (std::size_t o = 0; o < outer && clear; ++o) {
                for (std::size_t i = 0; i < inner && clear; ++i) {
                    std::vector<double> line(extent);
                    for (std::size_t j = 0; j < extent; ++j)
                        line[j] = e[(o * extent + j) * inner + i];
                    std::partial_sort(line.begin(), line.begin() + std::min<long>(2, long(extent)),
                                      line.end(), std::greater<>());
                    clear = extent == 1 || line[0] - line[1] >= max_gap;
                }
            }
            if (clear) axes.push_back(k);
        }
        return axes;
    }

    bool fits_in_a_value(const std::optional<Shape>& s) const {
        return s && element_count(*s) <= max_value_elements;
    }

    /// The second operand of + - * /: a new input of a broadcasting shape, a keepdims
    /// reduction of `a` itself (a diamond), or an existing value that broadcasts with `a`
    /// (possibly `a`).
    Value broadcast_partner(Value a, Domain domain) {
        if (chance(0.5)) {
            const Shape b = broadcast_shape_for(shape(a));
            if (can_add_input(b) && fits_in_a_value(broadcast(shape(a), b)))
                return add_input(b, domain);
        }
        if (rank(a) > 0 && chance(0.15))
            return emit(with_axes(chance(0.5) ? Op::sum_axes : Op::mean_axes, a,
                                  random_axes(rank(a), false), true));
        return pick_partner([&](Value b) { return fits_in_a_value(broadcast(shape(a), shape(b))); })
            .value(); // `a` itself always fits
    }

    /// B for A B: a new input, an existing value of the right shape, or A's transpose.
    std::optional<Value> matmul_partner(Value a) {
        const Shape& s = shape(a);
        const bool batched = s.size() == 3;
        const std::size_t rows = s[s.size() - 2], inner = s.back(), batch = batched ? s[0] : 1;
        const std::size_t columns = uniform(1, 4);
        const Shape new_shape = batched ? Shape{batch, inner, columns} : Shape{inner, columns};
        if (chance(0.5) && can_add_input(new_shape) && batch * rows * columns <= max_value_elements)
            return add_input(new_shape, Domain::any);
        const auto fits = [&](Value b) {
            const Shape& t = shape(b);
            return t.size() == s.size() && t[t.size() - 2] == inner &&
                   (!batched || t[0] == batch) && batch * rows * t.back() <= max_value_elements;
        };
        if (chance(0.7)) {
            if (const auto b = pick_partner(fits)) return b;
        }
        if (batch * rows * rows > max_value_elements) return std::nullopt;
        if (!batched) return emit(unary(Op::transpose, a));
        Step swap = unary(Op::permute, a);
        swap.shape_argument = {0, 2, 1};
        return emit(std::move(swap));
    }

    /// W (N, M) for linear(X, W): a new input or an existing value (X itself fits).
    std::optional<Value> weight_for(Value x) {
        const std::size_t rows = shape(x)[0], features = shape(x)[1];
        const Shape new_shape{uniform(1, 4), features};
        if (chance(0.5) && can_add_input(new_shape) && rows * new_shape[0] <= max_value_elements)
            return add_input(new_shape, Domain::any);
        return pick_partner([&](Value w) {
            return rank(w) == 2 && shape(w)[1] == features &&
                   rows * shape(w)[0] <= max_value_elements;
        });
    }

    /// b (N,) for linear(X, W, b): a new input, an existing value, or a row reduction of W.
    Value bias_for(Value w) {
        const std::size_t outputs = shape(w)[0];
        if (chance(0.4) && can_add_input({outputs})) return add_input({outputs}, Domain::any);
        if (chance(0.6)) {
            if (const auto b = pick_partner([&](Value v) { return shape(v) == Shape{outputs}; }))
                return *b;
        }
        return emit(with_axes(chance(0.5) ? Op::sum_axes : Op::mean_axes, w, {-1}, false));
    }

    /// The targets of a loss on `v`: a new input, another value of the same shape, or a
    /// constant (distribution rows for the cross entropies, normal values for mse_loss).
    Value targets_for(Value v, bool distribution) {
        const Shape& s = shape(v);
        if (chance(0.4) && can_add_input(s))
            return add_input(s, distribution ? Domain::positive : Domain::any);
        if (chance(0.5)) {
            if (const auto t = pick_partner([&](Value u) { return u != v && shape(u) == s; }))
                return *t;
        }
        std::mt19937 rng = derived_rng();
        if (distribution)
            return add_constant(random_distribution_rows<double>(s[0], s[1], rng),
                                "distribution rows");
        return add_constant(random_tensor<double>(s, rng, Domain::any, false), "normal(0, 1)");
    }

    /// `v` as images (N, C, H, W): itself when of rank 4, else reshaped to one image of
    /// C channels of H x W with H, W >= 2; nothing when its size does not allow that.
    std::optional<Value> image_of(std::optional<Value> v) {
        if (!v) return std::nullopt;
        if (rank(*v) == 4) return v;
        const std::size_t n = element_count(shape(*v));
        std::vector<Shape> images;
        for (std::size_t h = 2; h <= n; ++h)
            for (std::size_t w = 2; h * w <= n; ++w)
                if (n % (h * w) == 0 && n / (h * w) <= 3) images.push_back({1, n / (h * w), h, w});
        if (images.empty()) return std::nullopt;
        Step step = unary(Op::reshape, *v);
        step.shape_argument = one_of(images);
        return emit(std::move(step));
    }

    /// Whether the top two elements of every window that `pool` reads of `x` differ by at
    /// least max_gap (padding, read as minus infinity, never ties).
    bool windows_tie_free(Value x, const Step& pool) const {
        const Shape& s = shape(x);
        const std::vector<double> e = elements(x);
        const std::size_t k = pool.kernel.h, stride = pool.window.stride.h,
                          pad = pool.window.padding.h;
        for (std::size_t plane = 0; plane < s[0] * s[1]; ++plane)
            for (std::size_t i = 0; i + k <= s[2] + 2 * pad; i += stride)
                for (std::size_t j = 0; j + k <= s[3] + 2 * pad; j += stride) {
                    std::vector<double> window;
                    for (std::size_t r = i; r < i + k; ++r)
                        for (std::size_t c = j; c < j + k; ++c)
                            if (r >= pad && r < s[2] + pad && c >= pad && c < s[3] + pad)
                                window.push_back(e[(plane * s[2] + r - pad) * s[3] + c - pad]);
                    std::sort(window.begin(), window.end(), std::greater<>());
                    if (window.size() > 1 && window[0] - window[1] < max_gap) return false;
                }
        return true;
    }

    /// Whether every channel (axis 1) of `x` has a standard deviation of at least 0.2.
    bool channels_spread(Value x) const {
        const Shape& s = shape(x);
        const std::vector<double> e = elements(x);
        const std::size_t channels = s[1], inner = element_count(Shape(s.begin() + 2, s.end()));
        for (std::size_t c = 0; c < channels; ++c) {
            double sum = 0, squares = 0, count = 0;
            for (std::size_t n = 0; n < s[0]; ++n)
                for (std::size_t i = 0; i < inner; ++i) {
                    const double v = e[(n * channels + c) * inner + i];
                    sum += v, squares += v * v, count += 1;
                }
            if (squares / count - (sum / count) * (sum / count) < 0.04) return false;
        }
        return true;
    }

    /// Emits `op` with random operands and arguments, or nothing when no value suits it.
    void try_op(Op op) {
        const auto any = [](Value) { return true; };
        const auto matrix = [this](Value v) { return rank(v) == 2; };
        const auto not_scalar = [this](Value v) { return rank(v) > 0; };
        // Rows of at least two classes: with one, a softmax loss is constantly 0.
        const auto classes = [this](Value v) { return rank(v) == 2 && shape(v)[1] >= 2; };
        switch (op) {
        case Op::maximum:
        case Op::minimum: {
            const Value a = pick(any).value();
            const Value b = broadcast_partner(a, Domain::any);
            emit_bounded(binary(op, a, apart_from(a, b, kink_margin)));
            return;
        }
        case Op::clamp: {
            const Value x = pick(any).value();
            const std::vector<double> bounds = clear_bounds(x);
            const std::size_t low = uniform(0, bounds.size() - 2);
            Step step = unary(op, x, bounds[low]);
            step.upper = bounds[uniform(low + 1, bounds.size() - 1)];
            emit_bounded(std::move(step));
            return;
        }
        case Op::where: {
            const Value a = pick(any).value();
            const Value b = broadcast_partner(a, Domain::any);
            const Shape s = broadcast(shape(a), shape(b)).value();
            std::vector<double> mask(element_count(s));
            for (double& m : mask) m = chance(0.5) ? 1 : 0;
            Step step = binary(op, add_constant(Tensor<double>(s, mask), "mask of 0 and 1"), a);
            step.operands.push_back(b);
            emit_bounded(std::move(step));
            return;
        }
        case Op::matrix_transpose: {
            const auto x = pick([this](Value v) { return rank(v) >= 2; });
            if (!x) return;
            emit_bounded(unary(op, *x));
            return;
        }
        case Op::flatten: {
            const auto x = pick(not_scalar);
            if (!x) return;
            const std::size_t first = uniform(0, rank(*x) - 1), last = uniform(first, rank(*x) - 1);
            emit_bounded(with_axes(
                op, *x, {signed_axis(first, rank(*x)), signed_axis(last, rank(*x))}, false));
            return;
        }
        case Op::squeeze:
        case Op::squeeze_all: {
            const auto unit_axes = [this](Value v) {
                std::vector<std::size_t> axes;
                for (std::size_t k = 0; k < rank(v); ++k)
                    if (shape(v)[k] == 1) axes.push_back(k);
                return axes;
            };
            const auto x = pick([&](Value v) { return !unit_axes(v).empty(); });
            if (!x) return;
            if (op == Op::squeeze_all) {
                emit_bounded(unary(op, *x));
                return;
            }
            emit_bounded(with_axes(op, *x, {signed_axis(one_of(unit_axes(*x)), rank(*x))}, false));
            return;
        }
        case Op::unsqueeze: {
            const Value x = pick(any).value();
            emit_bounded(with_axes(op, x, {signed_axis(uniform(0, rank(x)), rank(x) + 1)}, false));
            return;
        }
        case Op::expand: {
            const Value x = pick(any).value();
            Shape target;
            if (rank(x) < 3 && chance(0.3)) target.push_back(uniform(1, 3));
            for (std::size_t extent : shape(x))
                target.push_back(extent == 1 ? uniform(1, 3) : extent);
            if (element_count(target) > max_value_elements) return;
            Step step = unary(op, x);
            step.shape_argument = target;
            emit_bounded(std::move(step));
            return;
        }
        case Op::narrow:
        case Op::slice:
        case Op::select:
        case Op::index_select: {
            const auto x = pick(not_scalar);
            if (!x) return;
            const std::size_t k = uniform(0, rank(*x) - 1), extent = shape(*x)[k];
            Step step = with_axes(op, *x, {signed_axis(k, rank(*x))}, false);
            step.start = uniform(0, extent - 1);
            if (op == Op::narrow) step.length = uniform(1, extent - step.start);
            if (op == Op::slice) {
                step.stop = uniform(step.start + 1, extent);
                step.step = uniform(1, 3);
            }
            if (op == Op::index_select) {
                step.labels.resize(uniform(1, 4)); // repeats allowed: their gradients add up
                for (auto& index : step.labels) index = std::int64_t(uniform(0, extent - 1));
                if (element_count(shape(*x)) / extent * step.labels.size() > max_value_elements)
                    return;
            }
            emit_bounded(std::move(step));
            return;
        }
        case Op::split: {
            const auto x = pick(not_scalar);
            if (!x) return;
            const std::size_t k = uniform(0, rank(*x) - 1), extent = shape(*x)[k];
            Step step = with_axes(op, *x, {signed_axis(k, rank(*x))}, false);
            for (std::size_t left = extent; left > 0;) { // pieces of at least one entry
                step.shape_argument.push_back(uniform(1, left));
                left -= step.shape_argument.back();
            }
            step.start = uniform(0, step.shape_argument.size() - 1);
            emit_bounded(std::move(step));
            return;
        }
        case Op::cat: {
            const auto a = pick(not_scalar);
            if (!a) return;
            const std::size_t k = uniform(0, rank(*a) - 1);
            const auto fits = [&](Value b) {
                if (rank(b) != rank(*a)) return false;
                for (std::size_t j = 0; j < rank(b); ++j)
                    if (j != k && shape(b)[j] != shape(*a)[j]) return false;
                return 2 * element_count(shape(b)) <= max_value_elements;
            };
            Shape new_shape = shape(*a);
            new_shape[k] = uniform(1, 3);
            const auto b = chance(0.5) && can_add_input(new_shape)
                               ? std::optional<Value>(add_input(new_shape, Domain::any))
                               : pick_partner(fits);
            if (!b || !fits(*b)) return;
            Step step = binary(op, *a, *b);
            step.axes = {signed_axis(k, rank(*a))};
            emit_bounded(std::move(step));
            return;
        }
        case Op::stack: {
            const Value a = pick(any).value();
            if (2 * element_count(shape(a)) > max_value_elements) return;
            const auto b = chance(0.5) && can_add_input(shape(a))
                               ? std::optional<Value>(add_input(shape(a), Domain::any))
                               : pick_partner([&](Value v) { return shape(v) == shape(a); });
            Step step = binary(op, a, b.value()); // `a` itself always fits
            step.axes = {signed_axis(uniform(0, rank(a)), rank(a) + 1)};
            emit_bounded(std::move(step));
            return;
        }
        case Op::neg:
        case Op::tanh:
        case Op::sigmoid:
        case Op::exp: // exp(4) is still moderate
        case Op::transpose:
        case Op::sum:
        case Op::mean:
            emit_bounded(unary(op, pick(any).value()));
            return;
        case Op::relu:
            emit_bounded(unary(op, away_from_zero(pick(any).value(), kink_margin, true)));
            return;
        case Op::abs:
            emit_bounded(unary(op, away_from_zero(pick(any).value(), kink_margin)));
            return;
        case Op::leaky_relu:
            emit_bounded(unary(op, away_from_zero(pick(any).value(), kink_margin),
                               one_of<double>({0.01, 0.1, 0.2})));
            return;
        case Op::elu:
            emit_bounded(unary(op, away_from_zero(pick(any).value(), kink_margin),
                               one_of<double>({0.5, 1.0, 1.5})));
            return;
        case Op::log:
        case Op::sqrt:
            emit_bounded(unary(op, at_least(pick(any).value(), positive_floor)));
            return;
        case Op::pow: {
            const double p = one_of<double>({2, 3, -1, -2, 0.5, 1.5, -0.5});
            Value x = pick(any).value();
            if (p != std::floor(p))
                x = at_least(x, positive_floor);
            else if (p < 0)
                x = away_from_zero(x, pole_margin);
            emit_bounded(unary(op, x, p));
            return;
        }
        case Op::add_scalar:
        case Op::scalar_add:
        case Op::sub_scalar:
        case Op::scalar_sub:
            emit_bounded(unary(op, pick(any).value(), signed_scalar(0.1, 2)));
            return;
        case Op::mul_scalar:
        case Op::scalar_mul:
            emit_bounded(unary(op, pick(any).value(), signed_scalar(0.25, 2)));
            return;
        case Op::div_scalar:
            emit_bounded(unary(op, pick(any).value(), signed_scalar(0.5, 2)));
            return;
        case Op::scalar_div:
            emit_bounded(
                unary(op, away_from_zero(pick(any).value(), pole_margin), signed_scalar(0.1, 2)));
            return;
        case Op::add:
        case Op::sub:
        case Op::mul: {
            const Value a = pick(any).value();
            emit_bounded(binary(op, a, broadcast_partner(a, Domain::any)));
            return;
        }
        case Op::div: {
            const Value a = pick(any).value();
            const Value b = broadcast_partner(a, Domain::away_from_zero);
            emit_bounded(binary(op, a, away_from_zero(b, pole_margin)));
            return;
        }
        case Op::matmul:
        case Op::batched_matmul: {
            const auto a = pick([&](Value v) { return rank(v) == (op == Op::matmul ? 2 : 3); });
            if (!a) return;
            const auto b = matmul_partner(*a);
            if (!b) return;
            emit_bounded(binary(op, *a, *b));
            return;
        }
        case Op::permute: {
            const auto x = pick([this](Value v) { return rank(v) >= 2; });
            if (!x) return;
            Step step = unary(op, *x);
            step.shape_argument.resize(rank(*x));
            std::iota(step.shape_argument.begin(), step.shape_argument.end(), 0);
            std::shuffle(step.shape_argument.begin(), step.shape_argument.end(), rng_);
            emit_bounded(std::move(step));
            return;
        }
        case Op::reshape: {
            Step step = unary(op, pick(any).value());
            step.shape_argument = random_reshape(element_count(shape(step.operands[0])));
            emit_bounded(std::move(step));
            return;
        }
        case Op::linear:
        case Op::linear_without_bias: {
            const auto x = pick(matrix);
            if (!x) return;
            const auto w = weight_for(*x);
            if (!w) return;
            Step step = binary(op, *x, *w);
            if (op == Op::linear) step.operands.push_back(bias_for(*w));
            emit_bounded(std::move(step));
            return;
        }
        case Op::sum_axes:
        case Op::mean_axes: {
            const auto x = pick(not_scalar);
            if (!x) return;
            emit_bounded(with_axes(op, *x, random_axes(rank(*x), true), chance(0.5)));
            return;
        }
        case Op::max:
        case Op::min: {
            const bool largest = op == Op::max;
            const auto x = pick([&](Value v) { return !tie_free_axes(v, largest).empty(); });
            if (!x) return;
            const int axis = signed_axis(one_of(tie_free_axes(*x, largest)), rank(*x));
            emit_bounded(with_axes(op, *x, {axis}, chance(0.5)));
            return;
        }
        case Op::softmax:
        case Op::log_softmax: {
            const auto x = pick(not_scalar);
            if (!x) return;
            // Along an axis of extent 1 the result is constant: only when all axes are so.
            std::vector<std::size_t> wide;
            for (std::size_t k = 0; k < rank(*x); ++k) {
                if (shape(*x)[k] > 1) wide.push_back(k);
            }
            const int axis =
                wide.empty() ? random_axis(rank(*x)) : signed_axis(one_of(wide), rank(*x));
            emit_bounded(with_axes(op, *x, {axis}, false));
            return;
        }
        case Op::cross_entropy: {
            const auto x = pick(matrix);
            if (!x) return;
            // Probabilities: x when comfortably positive, else its row softmax (x shifted up
            // for a single class, where the softmax is constant).
            const std::vector<double> e = elements(*x);
            const bool positive = *std::min_element(e.begin(), e.end()) >= positive_floor;
            const Value p = positive            ? *x
                            : shape(*x)[1] >= 2 ? emit(with_axes(Op::softmax, *x, {-1}, false))
                                                : at_least(*x, positive_floor);
            emit_bounded(binary(op, p, targets_for(p, true)));
            return;
        }
        case Op::softmax_cross_entropy_targets: {
            const auto z = pick(classes);
            if (!z) return;
            emit_bounded(binary(op, *z, targets_for(*z, true)));
            return;
        }
        case Op::softmax_cross_entropy_labels:
        case Op::nll_loss: {
            const auto z = op == Op::nll_loss ? pick(matrix) : pick(classes);
            if (!z) return;
            Step step = unary(op, *z);
            step.labels = random_labels(shape(*z));
            emit_bounded(std::move(step));
            return;
        }
        case Op::mse_loss: {
            const Value x = pick(any).value();
            emit_bounded(binary(op, x, targets_for(x, false)));
            return;
        }
        case Op::conv2d:
        case Op::conv2d_without_bias: {
            const auto x = image_of(pick([this](Value v) { return element_count(shape(v)) >= 4; }));
            if (!x) return;
            const Shape& s = shape(*x);
            Conv2dOptions window{uniform(1, 2), uniform(0, 1), uniform(1, 2)};
            const std::size_t out = uniform(1, 3), kh = uniform(1, 3), kw = uniform(1, 3);
            const auto extent = [](std::size_t in, std::size_t k, std::size_t stride,
                                   std::size_t padding, std::size_t dilation) -> std::size_t {
                const std::size_t span = dilation * (k - 1) + 1;
                return in + 2 * padding < span ? 0 : (in + 2 * padding - span) / stride + 1;
            };
            const std::size_t ho = extent(s[2], kh, window.stride.h, window.padding.h,
                                          window.dilation.h),
                              wo = extent(s[3], kw, window.stride.w, window.padding.w,
                                          window.dilation.w);
            const Shape w_shape{out, s[1], kh, kw};
            if (ho == 0 || wo == 0 || s[0] * out * ho * wo > max_value_elements ||
                !can_add_input(w_shape))
                return;
            Step step = binary(op, *x, add_input(w_shape, Domain::any));
            if (op == Op::conv2d)
                step.operands.push_back(can_add_input({out})
                                            ? add_input({out}, Domain::any)
                                            : add_constant(Tensor<double>::zeros({out}), "zeros"));
            step.window = window;
            emit_bounded(std::move(step));
            return;
        }
        case Op::max_pool2d:
        case Op::avg_pool2d: {
            const auto x = image_of(pick([this](Value v) { return element_count(shape(v)) >= 4; }));
            if (!x) return;
            const Shape& s = shape(*x);
            const std::size_t kernel = uniform(1, std::min<std::size_t>(3, std::min(s[2], s[3])));
            Step step = unary(op, *x);
            step.kernel = kernel;
            step.window.stride = uniform(1, kernel);
            step.window.padding = uniform(0, kernel / 2);
            if (op == Op::max_pool2d && !windows_tie_free(*x, step)) return;
            emit_bounded(std::move(step));
            return;
        }
        case Op::batch_norm: {
            // Rows (N, C) or images, with every channel spread out: a near-constant channel
            // has a near-zero variance, whose gradient finite differences cannot follow.
            const auto x = pick([this](Value v) {
                return (rank(v) == 2 || rank(v) == 4) && shape(v)[0] >= 2 && channels_spread(v);
            });
            if (!x) return;
            const std::size_t channels = shape(*x)[1];
            const Value gamma = can_add_input({channels})
                                    ? add_input({channels}, Domain::away_from_zero)
                                    : add_constant(Tensor<double>::ones({channels}), "ones");
            const Value beta = can_add_input({channels})
                                   ? add_input({channels}, Domain::any)
                                   : add_constant(Tensor<double>::zeros({channels}), "zeros");
            Step step = binary(op, *x, gamma);
            step.operands.push_back(beta);
            step.statistics = {channels};
            emit_bounded(std::move(step));
            return;
        }
        }
        throw std::logic_error(std::string("try_op: no operands for ") + op_row(op).name);
    }

    /// Adds every value that no step reads (reduced to a scalar) into the output, so that
    /// all of the program's work reaches the gradients.
    void fold_unread_values() {
        const Value last = values_.size() - 1;
        Value output = last;
        for (Value v = 0; v < last; ++v) {
            if (uses_[v] > 0) continue;
            const Value scalar =
                rank(v) == 0 ? v : emit(unary(chance(0.5) ? Op::sum : Op::mean, v));
            output = emit_bounded(binary(chance(0.5) ? Op::add : Op::sub, output, scalar));
        }
    }

    std::mt19937_64 rng_;
    Program program_;
    std::vector<Tensor<double>> values_; // every value as the builder evaluated it
    std::vector<double> magnitude_;      // the largest |element| of each value
    std::vector<std::size_t> uses_;      // how many steps read each value
    std::size_t input_budget_ = 1;       // inputs are created when a step needs one
};

} // namespace

Tensor<double> Program::run(const std::vector<Tensor<double>>& leaves) const {
    std::vector<Tensor<double>> values;
    values.reserve(steps.size());
    for (const Step& step : steps) values.push_back(evaluate(step, values, leaves, constants));
    return values.back();
}

std::string Program::to_string() const {
    std::string text;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        std::string line = "v" + std::to_string(i) + " = " + expression(steps[i]);
        line.resize(std::max<std::size_t>(line.size() + 4, 40), ' '); // align the comments
        line += "# " + detail::format_shape(steps[i].shape);
        if (!steps[i].note.empty()) line += ", " + steps[i].note;
        text += line + "\n";
    }
    return text + "output: v" + std::to_string(steps.size() - 1) + "\n";
}

std::size_t Program::op_count() const {
    return std::size_t(std::count_if(steps.begin(), steps.end(),
                                     [](const Step& step) { return step.source == Source::op; }));
}

Program random_program(std::uint64_t seed) {
    return Builder(seed).build();
}

} // namespace tapegrad::testing
