#include "options.hpp"

#include "tapegrad/errors.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <sstream>

namespace tapegrad::train {

namespace {

template <class N> N parse_number(const std::string& flag, const std::string& text) {
    N value{};
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (error != std::errc() || stop != end) {
        throw ValueError(fmt::format("{}: '{}' is not a valid number", flag, text));
    }
    return value;
}

template <class N> N parse_positive(const std::string& flag, const std::string& text) {
    const N value = parse_number<N>(flag, text);
    if (!(value > 0)) throw ValueError(fmt::format("{}: must be positive, got {}", flag, text));
    return value;
}

std::vector<std::size_t> parse_widths(const std::string& flag, const std::string& text) {
    std::vector<std::size_t> widths;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        widths.push_back(parse_positive<std::size_t>(flag, text.substr(start, comma - start)));
        start = comma + 1;
    }
    return widths;
}

std::string one_of(const std::string& flag, const std::string& text,
                   const std::vector<const char*>& choices) {
    for (const char* choice : choices) {
        if (text == choice) return text;
    }
    throw ValueError(
        fmt::format("{}: '{}' is not one of {}", flag, text, fmt::join(choices, ", ")));
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t substitution = diagonal + (a[i - 1] != b[j - 1]);
            diagonal = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
        }
    }
    return row[b.size()];
}

/// "unknown option '--lrate' (did you mean --lr?)" when a long option is close enough.
std::string unknown_option_message(const CLI::App& app, const std::string& argument) {
    const std::string flag = argument.substr(0, argument.find('='));
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, flag.size() / 3) + 1;
    for (const CLI::Option* option : app.get_options()) {
        for (const std::string& name : option->get_lnames()) {
            const std::string candidate = "--" + name;
            // A flag that starts with an option's name ("--lrate") most likely means it.
            const bool prefix =
                flag.size() > 2 && (flag.rfind(candidate, 0) == 0 || candidate.rfind(flag, 0) == 0);
            const std::size_t distance = prefix ? 1 : edit_distance(flag, candidate);
            if (distance < best_distance) best = candidate, best_distance = distance;
        }
    }
    const std::string hint = best.empty() ? "see --help" : "did you mean " + best + "?";
    if (argument.empty() || argument[0] != '-') {
        return fmt::format("unexpected argument '{}' (see --help)", argument);
    }
    return fmt::format("unknown option '{}' ({})", argument, hint);
}

/// Declares every option on `app`; parsing writes the values into `o`.
void declare_options(CLI::App& app, Options& o) {
    const Options d;
    app.description("Trains a classifier on Fashion-MNIST (or any MNIST-format dataset) with "
                    "tapegrad and writes metrics.csv, training.svg, model.npz, checkpoint.npz "
                    "and recipe.toml to --out.");
    app.set_help_flag("-h,--help", "this text");
    app.set_config("--config", "",
                   "read options from a TOML recipe (every run writes its own recipe.toml); "
                   "options on the command line win")
        ->type_name("FILE")
        ->group("Data and outputs");
    app.allow_extras();
    // As in most programs, an option given twice takes its last value.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.allow_config_extras(CLI::config_extras_mode::error);

    const auto value = [&app](const char* name, const char* type, const char* group,
                              const std::string& default_text, const char* help,
                              std::function<void(const std::string&)> set) {
        CLI::Option* option = app.add_option_function<std::string>(name, std::move(set), help);
        option->type_name(type)->group(group);
        if (!default_text.empty()) option->default_str(default_text);
    };
    const auto number = [](auto& field, const std::string& flag) {
        using N = std::decay_t<decltype(field)>;
        return [&field, flag](const std::string& v) { field = parse_number<N>(flag, v); };
    };
    const auto positive = [](auto& field, const std::string& flag) {
        using N = std::decay_t<decltype(field)>;
        return [&field, flag](const std::string& v) { field = parse_positive<N>(flag, v); };
    };
    const auto text = [](std::string& field) {
        return [&field](const std::string& v) { field = v; };
    };
    const auto choice = [](std::string& field, const std::string& flag,
                           std::vector<const char*> choices) {
        return [&field, flag, choices](const std::string& v) { field = one_of(flag, v, choices); };
    };

    const char* data = "Data and outputs";
    value("--data", "DIR", data, d.data_dir, "dataset directory with the four IDX files",
          text(o.data_dir));
    value("--out", "DIR", data, d.output_dir, "where the run's files go", text(o.output_dir));
    value("--train-limit", "N", data, "0", "use only the first N training images (0: all)",
          number(o.train_limit, "--train-limit"));
    value("--test-limit", "N", data, "0", "use only the first N test images (0: all)",
          number(o.test_limit, "--test-limit"));

    const char* model = "Model";
    value("--model", "NAME", model, d.model, "mlp, or cnn (two convolution blocks, see below)",
          choice(o.model, "--model", {"mlp", "cnn"}));
    value("--hidden", "W1,W2,...", model, fmt::format("{}", fmt::join(d.hidden, ",")),
          "hidden layer widths of the mlp",
          [&o](const std::string& v) { o.hidden = parse_widths("--hidden", v); });
    value("--activation", "NAME", model, d.activation, "relu, leaky_relu, elu, tanh, sigmoid",
          choice(o.activation, "--activation", {"relu", "leaky_relu", "elu", "tanh", "sigmoid"}));
    value("--dropout", "P", model, "0; cnn: 0.25", "dropout after each hidden layer",
          number(o.dropout, "--dropout"));

    const char* training = "Training";
    value("--optimizer", "NAME", training, d.optimizer, "adam, adamw, sgd",
          choice(o.optimizer, "--optimizer", {"adam", "adamw", "sgd"}));
    value("--lr", "RATE", training, fmt::format("{}", d.learning_rate), "base learning rate",
          positive(o.learning_rate, "--lr"));
    value("--schedule", "NAME", training, d.schedule,
          "constant, step (x0.1 every 3 epochs), cosine",
          choice(o.schedule, "--schedule", {"constant", "step", "cosine"}));
    value("--momentum", "M", training, fmt::format("{}", d.momentum), "sgd momentum",
          number(o.momentum, "--momentum"));
    app.add_flag("--nesterov", o.nesterov, "Nesterov momentum for sgd")->group(training);
    value("--weight-decay", "WD", training, "0", "L2 (adam, sgd) or decoupled (adamw) weight decay",
          number(o.weight_decay, "--weight-decay"));
    value("--batch-size", "N", training, fmt::format("{}", d.batch_size),
          "examples per step (with --distributed: per process)",
          positive(o.batch_size, "--batch-size"));
    value("--epochs", "N", training, "10; cnn: 15", "passes over the training set",
          positive(o.epochs, "--epochs"));
    value("--seed", "N", training, fmt::format("{}", d.seed),
          "seeds initialisation, shuffling and dropout", number(o.seed, "--seed"));
    value("--threads", "N", training, fmt::format("{}", d.threads),
          "threads for the matrix and convolution kernels", positive(o.threads, "--threads"));
    app.add_flag("--distributed", o.distributed,
                 "data-parallel over the processes of mpirun (needs a build with MPI)")
        ->group(training);
    value("--bucket-mb", "MB", training, fmt::format("{}", d.bucket_mb),
          "with --distributed: gradients are averaged in buckets of this size",
          positive(o.bucket_mb, "--bucket-mb"));
    app.add_flag_callback(
           "--no-overlap", [&o] { o.overlap = false; },
           "with --distributed: average gradients only after backward instead of while it runs "
           "(to measure what the overlap saves)")
        ->group(training);

    const char* checks = "Checks and reuse";
    app.add_flag("--gradcheck", o.gradcheck,
                 "first check the model's gradients against finite differences")
        ->group(checks);
    value("--resume", "FILE", checks, "",
          "continue from a checkpoint.npz (or start from the parameters of a model.npz)",
          text(o.resume));
    value("--eval", "FILE", checks, "",
          "only evaluate the model file on the test set (it names its architecture)", text(o.eval));
    value("--graph", "FILE", checks, "", "write the graph of one training step in DOT",
          text(o.graph));

    app.footer("The cnn model: conv 3x3 (32) - batch norm - activation - max-pool 2x2, conv 3x3 "
               "(64) - batch norm - activation - max-pool 2x2, flatten, dropout, dense 128 - "
               "activation - dropout, dense 10. Its recipe: 15 epochs, dropout 0.25.");
}

/// Runs `parse` on an app with every option declared over `o`, turning CLI11's errors into
/// ours; with `recipe_defaults`, options left unset take the chosen model's recipe values.
template <class Parse> Options parse_with(Options o, bool recipe_defaults, Parse&& parse) {
    CLI::App app("", "tapegrad-train");
    declare_options(app, o);
    try {
        parse(app);
    } catch (const CLI::CallForHelp&) {
        o.help = true;
        return o;
    } catch (const CLI::ArgumentMismatch& error) {
        const std::string message = error.what();
        throw ValueError(fmt::format("{}: needs a value", message.substr(0, message.find(':'))));
    } catch (const CLI::ParseError& error) {
        throw ValueError(error.what());
    }
    if (const std::vector<std::string> extras = app.remaining(); !extras.empty()) {
        throw ValueError(unknown_option_message(app, extras.front()));
    }
    if (recipe_defaults && o.model == "cnn") {
        if (app.count("--epochs") == 0) o.epochs = 15;
        if (app.count("--dropout") == 0) o.dropout = 0.25;
    }
    if (o.dropout < 0 || o.dropout >= 1)
        throw ValueError(fmt::format("--dropout: must be in [0, 1), got {}", o.dropout));
    return o;
}

} // namespace

Options parse_options(int argc, const char* const* argv, const Options* base) {
    return parse_with(base ? *base : Options{}, base == nullptr,
                      [&](CLI::App& app) { app.parse(argc, argv); });
}

Options options_from_recipe(const std::string& recipe) {
    return parse_with(Options{}, true, [&](CLI::App& app) {
        std::istringstream stream(recipe);
        app.parse_from_stream(stream);
    });
}

std::string usage() {
    Options unused;
    CLI::App app("", "tapegrad-train");
    declare_options(app, unused);
    return app.help();
}

std::string recipe_toml(const Options& o) {
    const auto quoted = [](const std::string& s) {
        std::string out = "\"";
        for (const char c : s) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        return out + '"';
    };
    return fmt::format(
        "# tapegrad-train --config recipe.toml repeats this run.\n"
        "data = {}\nout = {}\ntrain-limit = {}\ntest-limit = {}\n"
        "model = \"{}\"\nhidden = \"{}\"\nactivation = \"{}\"\ndropout = {}\n"
        "optimizer = \"{}\"\nlr = {}\nschedule = \"{}\"\nmomentum = {}\nnesterov = {}\n"
        "weight-decay = {}\nbatch-size = {}\nepochs = {}\nseed = {}\nthreads = {}\n",
        quoted(o.data_dir), quoted(o.output_dir), o.train_limit, o.test_limit, o.model,
        fmt::join(o.hidden, ","), o.activation, o.dropout, o.optimizer, o.learning_rate, o.schedule,
        o.momentum, o.nesterov, o.weight_decay, o.batch_size, o.epochs, o.seed, o.threads);
}

} // namespace tapegrad::train
