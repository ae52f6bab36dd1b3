#pragma once
// The nets of workloads.hpp in LibTorch, for bench_libtorch and libtorch_train.

#include "workloads.hpp"

#include <torch/torch.h>

namespace tapegrad::bench {

inline torch::nn::Sequential make_cnn_net(CnnNet net) {
    using namespace torch::nn;
    const int64_t side = cnn_side, classes = cnn_classes;
    if (net == CnnNet::recipe) {
        return Sequential(
            Unflatten(UnflattenOptions(1, {1, side, side})),
            Conv2d(Conv2dOptions(1, 32, 3).padding(1)), BatchNorm2d(32), ReLU(),
            MaxPool2d(MaxPool2dOptions(2)), Conv2d(Conv2dOptions(32, 64, 3).padding(1)),
            BatchNorm2d(64), ReLU(), MaxPool2d(MaxPool2dOptions(2)), Flatten(), Dropout(0.25),
            Linear(64 * (side / 4) * (side / 4), 128), ReLU(), Dropout(0.25), Linear(128, classes));
    }
    return Sequential(Unflatten(UnflattenOptions(1, {1, side, side})),
                      Conv2d(Conv2dOptions(1, 10, 5)), MaxPool2d(MaxPool2dOptions(2)), ReLU(),
                      Conv2d(Conv2dOptions(10, 20, 5)), Dropout(0.5),
                      MaxPool2d(MaxPool2dOptions(2)), ReLU(), Flatten(), Linear(320, 50), ReLU(),
                      Dropout(0.5), Linear(50, classes));
}

} // namespace tapegrad::bench
