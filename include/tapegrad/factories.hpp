#pragma once
// Tensors filled by rule or at random, as torch.randn, torch.arange, ... Random factories
// draw from a Generator: one passed in, or this thread's default one (manual_seed).

#include "tapegrad/tensor.hpp"

#include <cstdint>
#include <random>

namespace tapegrad {

/// A seeded source of random numbers; the same seed gives the same tensors.
class Generator {
public:
    explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
    void seed(std::uint64_t value) { engine_.seed(value); }
    std::mt19937_64& engine() { return engine_; }

private:
    std::mt19937_64 engine_;
};

/// The calling thread's default generator (seed 0 until manual_seed).
Generator& default_generator();
/// Seeds the calling thread's default generator.
void manual_seed(std::uint64_t seed);

/// Samples of the standard normal distribution.
template <class T>
Tensor<T> randn(const Shape& shape, Generator& generator = default_generator(),
                bool requires_grad = false);
/// Samples of the uniform distribution on [0, 1).
template <class T>
Tensor<T> rand(const Shape& shape, Generator& generator = default_generator(),
               bool requires_grad = false);
/// Samples of the uniform distribution on [low, high).
template <class T>
Tensor<T> uniform(const Shape& shape, T low, T high, Generator& generator = default_generator(),
                  bool requires_grad = false);
/// start, start + step, ... below stop (above it for a negative step); rank 1.
template <class T> Tensor<T> arange(T start, T stop, T step = T(1));
/// `count` evenly spaced values from start to stop, both included; rank 1.
template <class T> Tensor<T> linspace(T start, T stop, std::size_t count);
/// The rows x columns matrix with ones on the diagonal (columns = rows unless given).
template <class T> Tensor<T> eye(std::size_t rows, std::size_t columns = 0);
template <class T> Tensor<T> zeros_like(const Tensor<T>& like, bool requires_grad = false);
template <class T> Tensor<T> ones_like(const Tensor<T>& like, bool requires_grad = false);

} // namespace tapegrad
