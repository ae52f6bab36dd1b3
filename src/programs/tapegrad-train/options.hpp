#pragma once
// Command-line options of tapegrad-train, with the default recipes.

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
    double dropout = 0;              // cnn recipe: 0.25
    std::size_t batch_size = 128;
    int epochs = 10; // cnn recipe: 15
    std::uint64_t seed = 1;
    int threads = 1;
    std::size_t train_limit = 0; // use only the first N training images (0: all)
    std::size_t test_limit = 0;
    bool gradcheck = false;
    std::string resume; // checkpoint (or model file) to continue from
    std::string eval;   // model file to evaluate, without training
    std::string graph;  // where to write one training step's graph (DOT)
    bool distributed = false;
    double bucket_mb = 1; // gradient all-reduce bucket size with --distributed
    bool overlap = true;  // start all-reduces while backward runs
    bool help = false;
};

/// Parses argv (and the recipe file named by --config); throws ValueError naming the flag
/// for anything it cannot use. Options not given keep their values in `base` (a resumed
/// run's recipe) or, without one, the defaults of the chosen model's recipe.
Options parse_options(int argc, const char* const* argv, const Options* base = nullptr);

/// The options a recipe (as recipe_toml writes it) gives, over the defaults.
Options options_from_recipe(const std::string& recipe);

/// The generated --help text.
std::string usage();

/// The options that determine a run's result, as a TOML recipe that --config reads back.
std::string recipe_toml(const Options& options);

} // namespace tapegrad::train
