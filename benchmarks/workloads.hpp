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

// 5. CNN step: 128 Fashion-MNIST-sized images (28 x 28, one channel) in rows, 10 classes,
//    softmax cross-entropy, SGD lr 0.01. Two nets, identical on both sides:
//    - cnn_recipe (tapegrad-train --model cnn): [conv 3x3 pad 1 -> batch norm -> ReLU -> max
//      pool 2x2] for 32 then 64 channels, dropout 0.25, linear 3136 -> 128, ReLU, dropout
//      0.25, linear 128 -> 10;
//    - mnist_example (LibTorch's C++ MNIST example, with element dropout): conv 1 -> 10 5x5,
//      max pool 2, ReLU, conv 10 -> 20 5x5, dropout 0.5, max pool 2, ReLU, linear 320 -> 50,
//      ReLU, dropout 0.5, linear 50 -> 10.
constexpr std::size_t cnn_batch = 128, cnn_side = 28, cnn_classes = 10;
enum class CnnNet { recipe = 0, mnist_example = 1 };

// 6. One convolution alone, forward and both backward products: the recipe's second
//    (x (128, 32, 14, 14), w (64, 32, 3, 3), padding 1).
constexpr std::size_t conv_batch = 128, conv_in = 32, conv_out = 64, conv_side = 14;

} // namespace tapegrad::bench
