// Update rules, written as plain loops over a parameter's elements and run outside the
// graph. The compiler vectorises them (restrict pointers tell it the buffers are distinct);
// large parameters are split over the threads set with set_num_threads. Every element is
// updated on its own, so the result does not depend on the thread count.

#include "tapegrad/optim/optimizer.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstddef>
#include <set>

namespace tapegrad::optim {

namespace {
// Below this many elements, starting the threads costs more than the update.
constexpr std::ptrdiff_t parallel_elements = 1 << 16;
} // namespace

template <class T>
Optimizer<T>::Optimizer(std::vector<Tensor<T>> parameters, double learning_rate)
    : parameters_(std::move(parameters)), learning_rate_(learning_rate) {}

template <class T> void Optimizer<T>::zero_grad() {
    for (Tensor<T>& p : parameters_) p.zero_grad();
}

namespace {
std::string state_key(std::size_t parameter, const std::string& name) {
    return fmt::format("state.{}.{}", parameter, name);
}
} // namespace

template <class T>
void Optimizer<T>::keep_in_state(const char* name, std::vector<std::vector<T>>& buffers) {
    state_buffers_.emplace_back(name, &buffers);
}

template <class T> void Optimizer<T>::keep_in_state(const char* name, std::vector<long>& counters) {
    state_counters_.emplace_back(name, &counters);
}

template <class T> OptimizerState<T> Optimizer<T>::state() const {
    OptimizerState<T> state;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
        for (const auto& [name, buffers] : state_buffers_) {
            if (!(*buffers)[k].empty()) state.buffers[state_key(k, name)] = (*buffers)[k];
        }
        for (const auto& [name, counters] : state_counters_) {
            if ((*counters)[k] != 0) state.counters[state_key(k, name)] = (*counters)[k];
        }
    }
    return state;
}

template <class T> void Optimizer<T>::load_state(const OptimizerState<T>& state) {
    std::set<std::string> known;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
        for (const auto& entry : state_buffers_) {
            const std::string key = state_key(k, entry.first);
            known.insert(key);
            const auto found = state.buffers.find(key);
            if (found != state.buffers.end() && found->second.size() != parameters_[k].size()) {
                throw ValueError(
                    fmt::format("load_state: '{}' has {} values but parameter {} has {} elements",
                                key, found->second.size(), k, parameters_[k].size()));
            }
        }
        for (const auto& entry : state_counters_) known.insert(state_key(k, entry.first));
    }
    const auto check_known = [&](const auto& entries) {
        for (const auto& entry : entries) {
            if (!known.count(entry.first))
                throw ValueError(fmt::format("load_state: unknown entry '{}'", entry.first));
        }
    };
    check_known(state.buffers);
    check_known(state.counters);
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
        for (auto& [name, buffers] : state_buffers_) {
            const auto found = state.buffers.find(state_key(k, name));
            (*buffers)[k] = found == state.buffers.end() ? std::vector<T>{} : found->second;
        }
        for (auto& [name, counters] : state_counters_) {
            const auto found = state.counters.find(state_key(k, name));
            (*counters)[k] = found == state.counters.end() ? 0 : long(found->second);
        }
    }
}

template <class T>
Sgd<T>::Sgd(std::vector<Tensor<T>> parameters, SgdOptions options)
    : Optimizer<T>(std::move(parameters), options.learning_rate), options_(options),
      velocity_(this->parameters_.size()) {
    this->keep_in_state("momentum_buffer", velocity_);
}

// g' = g + wd p;  v = mu v + g';  p -= lr (nesterov ? g' + mu v : v)   (v = g' on step 1)
template <class T> void Sgd<T>::step() {
    const T lr = static_cast<T>(this->learning_rate_), mu = static_cast<T>(options_.momentum),
            wd = static_cast<T>(options_.weight_decay);
    const bool nesterov = options_.nesterov;
    this->for_each_gradient([&](std::size_t k, T* p, const T* grad, std::size_t n) {
        T* __restrict value = p;
        const T* __restrict gradient = grad;
        const auto count = static_cast<std::ptrdiff_t>(n);
        if (options_.momentum == 0) {
#pragma omp parallel for simd if (count >= parallel_elements)
            for (std::ptrdiff_t i = 0; i < count; ++i)
                value[i] -= lr * (gradient[i] + wd * value[i]);
            return;
        }
        std::vector<T>& v = velocity_[k];
        const bool first = v.empty();
        if (first) v.resize(n);
        T* __restrict velocity = v.data();
#pragma omp parallel for simd if (count >= parallel_elements)
        for (std::ptrdiff_t i = 0; i < count; ++i) {
            const T g = gradient[i] + wd * value[i];
            velocity[i] = first ? g : mu * velocity[i] + g;
            value[i] -= lr * (nesterov ? g + mu * velocity[i] : velocity[i]);
        }
    });
}

template <class T>
Adam<T>::Adam(std::vector<Tensor<T>> parameters, AdamOptions options)
    : Optimizer<T>(std::move(parameters), options.learning_rate), options_(options),
      first_moment_(this->parameters_.size()), second_moment_(this->parameters_.size()),
      steps_(this->parameters_.size(), 0) {
    this->keep_in_state("exp_avg", first_moment_);
    this->keep_in_state("exp_avg_sq", second_moment_);
    this->keep_in_state("step", steps_);
}

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr m^ / (sqrt(v^) + eps)
// with m^ = m / (1 - b1^t), v^ = v / (1 - b2^t). Adam adds wd p to g; AdamW multiplies p
// by (1 - lr wd) first.
template <class T> void Adam<T>::step() {
    const double lr = this->learning_rate_;
    this->for_each_gradient([&](std::size_t k, T* p, const T* grad, std::size_t n) {
        std::vector<T>& m = first_moment_[k];
        std::vector<T>& v = second_moment_[k];
        if (m.empty()) m.assign(n, T(0)), v.assign(n, T(0));
        const long t = ++steps_[k];
        const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
        const T step_size = static_cast<T>(lr / (1 - std::pow(options_.beta1, t)));
        const T root_correction = static_cast<T>(std::sqrt(1 - std::pow(options_.beta2, t)));
        const T eps = static_cast<T>(options_.eps);
        const T l2 = options_.decoupled_weight_decay ? T(0) : static_cast<T>(options_.weight_decay);
        const T shrink =
            options_.decoupled_weight_decay ? static_cast<T>(1 - lr * options_.weight_decay) : T(1);
        const T inverse_root_correction = T(1) / root_correction;
        T* __restrict first = m.data();
        T* __restrict second = v.data();
        T* __restrict value = p;
        const T* __restrict gradient = grad;
        const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for simd if (count >= parallel_elements)
        for (std::ptrdiff_t i = 0; i < count; ++i) {
            const T g = gradient[i] + l2 * value[i];
            first[i] = b1 * first[i] + (1 - b1) * g;
            second[i] = b2 * second[i] + (1 - b2) * g * g;
            value[i] =
                shrink * value[i] -
                step_size * first[i] / (std::sqrt(second[i]) * inverse_root_correction + eps);
        }
    });
}

template class Optimizer<float>;
template class Optimizer<double>;
template class Sgd<float>;
template class Sgd<double>;
template class Adam<float>;
template class Adam<double>;

} // namespace tapegrad::optim
