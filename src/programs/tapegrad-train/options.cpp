#include "options.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <map>

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
                   std::initializer_list<const char*> choices) {
    for (const char* choice : choices) {
        if (text == choice) return text;
    }
    throw ValueError(
        fmt::format("{}: '{}' is not one of {}", flag, text, fmt::join(choices, ", ")));
}

} // namespace

Options parse_options(int argc, const char* const* argv) {
    Options o;
    using Setter = std::function<void(const std::string&)>;
    const std::map<std::string, Setter> valued{
        {"--data", [&](const std::string& v) { o.data_dir = v; }},
        {"--out", [&](const std::string& v) { o.output_dir = v; }},
        {"--hidden", [&](const std::string& v) { o.hidden = parse_widths("--hidden", v); }},
        {"--model",
         [&](const std::string& v) {
             o.model = one_of("--model", v, {"mlp", "cnn"});
         }},
        {"--activation",
         [&](const std::string& v) {
             o.activation =
                 one_of("--activation", v, {"relu", "leaky_relu", "elu", "tanh", "sigmoid"});
         }},
        {"--optimizer",
         [&](const std::string& v) {
             o.optimizer = one_of("--optimizer", v, {"adam", "adamw", "sgd"});
         }},
        {"--lr",
         [&](const std::string& v) { o.learning_rate = parse_positive<double>("--lr", v); }},
        {"--momentum",
         [&](const std::string& v) { o.momentum = parse_number<double>("--momentum", v); }},
        {"--weight-decay",
         [&](const std::string& v) { o.weight_decay = parse_number<double>("--weight-decay", v); }},
        {"--schedule",
         [&](const std::string& v) {
             o.schedule = one_of("--schedule", v, {"constant", "step", "cosine"});
         }},
        {"--dropout",
         [&](const std::string& v) { o.dropout = parse_number<double>("--dropout", v); }},
        {"--batch-size",
         [&](const std::string& v) {
             o.batch_size = parse_positive<std::size_t>("--batch-size", v);
         }},
        {"--epochs", [&](const std::string& v) { o.epochs = parse_positive<int>("--epochs", v); }},
        {"--seed",
         [&](const std::string& v) { o.seed = parse_number<std::uint64_t>("--seed", v); }},
        {"--threads",
         [&](const std::string& v) { o.threads = parse_positive<int>("--threads", v); }},
        {"--train-limit",
         [&](const std::string& v) {
             o.train_limit = parse_number<std::size_t>("--train-limit", v);
         }},
        {"--test-limit",
         [&](const std::string& v) {
             o.test_limit = parse_number<std::size_t>("--test-limit", v);
         }},
        {"--resume", [&](const std::string& v) { o.resume = v; }},
        {"--eval", [&](const std::string& v) { o.eval = v; }},
    };
    const std::map<std::string, bool*> switches{{"--gradcheck", &o.gradcheck},
                                                {"--nesterov", &o.nesterov},
                                                {"--help", &o.help},
                                                {"-h", &o.help}};

    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i], value;
        const std::size_t equals = flag.find('=');
        const bool inline_value = equals != std::string::npos;
        if (inline_value) value = flag.substr(equals + 1), flag = flag.substr(0, equals);
        if (const auto s = switches.find(flag); s != switches.end() && !inline_value) {
            *s->second = true;
        } else if (const auto v = valued.find(flag); v != valued.end()) {
            if (!inline_value) {
                if (i + 1 >= argc) throw ValueError(fmt::format("{}: needs a value", flag));
                value = argv[++i];
            }
            v->second(value);
        } else {
            throw ValueError(fmt::format("unknown option '{}' (see --help)", argv[i]));
        }
    }
    if (o.dropout < 0 || o.dropout >= 1)
        throw ValueError(fmt::format("--dropout: must be in [0, 1), got {}", o.dropout));
    return o;
}

std::string usage() {
    const Options d;
    return fmt::format(
        R"(Usage: tapegrad-train [options]
Trains a multi-layer perceptron on Fashion-MNIST (or any MNIST-format dataset) with tapegrad.

Data and outputs
  --data DIR            dataset directory with the four IDX files [{}]
  --out DIR             where metrics.csv, training.svg and model.npz go [{}]
  --train-limit N       use only the first N training images (0: all) [0]
  --test-limit N        use only the first N test images (0: all) [0]
Model
  --model NAME          mlp, or cnn (two convolution blocks, see README) [{}]
  --hidden W1,W2,...    hidden layer widths of the mlp [{}]
  --activation NAME     relu, leaky_relu, elu, tanh, sigmoid [{}]
  --dropout P           dropout after each hidden layer [{}]
Training
  --optimizer NAME      adam, adamw, sgd [{}]
  --lr RATE             base learning rate [{}]
  --schedule NAME       constant, step (x0.1 every 3 epochs), cosine [{}]
  --momentum M          sgd momentum [{}];  --nesterov  for Nesterov momentum
  --weight-decay WD     L2 (adam, sgd) or decoupled (adamw) weight decay [{}]
  --batch-size N        [{}]
  --epochs N            [{}]
  --seed N              seeds initialisation, shuffling and dropout [{}]
  --threads N           threads for the matrix kernels [{}]
Checks and reuse
  --gradcheck           first check the model's gradients against finite differences
  --resume FILE         start from the parameters in FILE (.npz)
  --eval FILE           only evaluate the parameters in FILE on the test set
  -h, --help            this text
)",
        d.data_dir, d.output_dir, d.model, fmt::join(d.hidden, ","), d.activation, d.dropout,
        d.optimizer, d.learning_rate, d.schedule, d.momentum, d.weight_decay, d.batch_size,
        d.epochs, d.seed, d.threads);
}

} // namespace tapegrad::train
