#pragma once
// The workload definitions shared by the tapegrad and LibTorch benchmarks, so both run the
// same sizes (docs/performance.md).

#include <cstddef>

namespace tapegrad::bench {

// 1. Per-op overhead: 250 x [x * a, x + b, tanh, relu] = 1000 ops.
constexpr int chain_repeats = 250;
constexpr int chain_ops = 4 * chain_repeats;

// 2. MLP step: 128 x 784 inputs, 784-512-512-10, ReLU, softmax cross-entropy, SGD lr 0.01.
constexpr std::size_t mlp_batch = 128, mlp_in = 784, mlp_hidden = 512, mlp_classes = 10;
constexpr double mlp_learning_rate = 0.01;

// 3. GEMM-bound: Y = X W^T, X and W 1024 x 1024, forward and backward.
constexpr std::size_t gemm_size = 1024;

} // namespace tapegrad::bench
