#pragma once
// Command-line options of tapegrad-train, with the default recipe.

#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad::train {

struct Options {
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    std::string output_dir = "runs/fashion-mnist";
    std::string model = "mlp"; // mlp, cnn
    std::vector<std::size_t> hidden{256, 128};
    std::string activation = "relu";
    std::string optimizer = "adam"; // adam, adamw, sgd
    double learning_rate = 1e-3;
    double momentum = 0.9; // sgd
    bool nesterov = false; // sgd
    double weight_decay = 0;
    std::string schedule = "cosine"; // constant, step, cosine
    double dropout = 0;
    std::size_t batch_size = 128;
    int epochs = 10;
    std::uint64_t seed = 1;
    int threads = 1;
    std::size_t train_limit = 0; // use only the first N training images (0: all)
    std::size_t test_limit = 0;
    bool gradcheck = false;
    std::string resume; // parameter file to start from
    std::string eval;   // parameter file to evaluate, without training
    bool help = false;
};

/// Parses argv; throws ValueError naming the flag for anything it cannot use.
Options parse_options(int argc, const char* const* argv);

std::string usage();

} // namespace tapegrad::train
