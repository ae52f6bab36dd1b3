#include "run_files.hpp"

#include "tapegrad/errors.hpp"
#include "tapegrad/nn/parameters_file.hpp"

#include <fmt/format.h>

#include <sstream>

namespace tapegrad::train {

namespace {

io::NamedArray text_array(std::string name, const std::string& text) {
    return io::NamedArray::uint8(std::move(name), {text.size()},
                                 std::vector<std::uint8_t>(text.begin(), text.end()));
}

io::NamedArray count_array(std::string name, std::int64_t value) {
    return io::NamedArray::int64(std::move(name), {}, {value});
}

/// The entries model.npz and checkpoint.npz share.
std::vector<io::NamedArray> model_arrays(Trainer& trainer, const Options& options,
                                         const ModelInputs& inputs) {
    std::vector<io::NamedArray> arrays = nn::state_arrays(trainer.model());
    arrays.push_back(text_array("meta.recipe", recipe_toml(options)));
    arrays.push_back(text_array("meta.architecture", trainer.model().describe()));
    arrays.push_back(io::NamedArray::float32(
        "meta.normalization", {2}, {inputs.normalization.mean, inputs.normalization.std}));
    arrays.push_back(count_array("meta.features", std::int64_t(inputs.features)));
    arrays.push_back(count_array("meta.classes", std::int64_t(inputs.classes)));
    return arrays;
}

constexpr std::size_t history_columns = 6;

/// The one non-negative integer an entry such as meta.epochs_done holds.
std::int64_t single_count(const io::NamedArray& array, const std::string& source) {
    const std::vector<std::int64_t>& values = array.as_int64();
    if (values.size() != 1 || values[0] < 0)
        throw FormatError(fmt::format("{}: entry '{}' is not a count", source, array.name));
    return values[0];
}

} // namespace

void save_model(const std::string& path, Trainer& trainer, const Options& options,
                const ModelInputs& inputs) {
    io::save_npz(path, model_arrays(trainer, options, inputs));
}

void save_checkpoint(const std::string& path, Trainer& trainer, const Options& options,
                     const ModelInputs& inputs, const RunState& state) {
    std::vector<io::NamedArray> arrays = model_arrays(trainer, options, inputs);
    const optim::OptimizerState<float> optimizer = trainer.optimizer().state();
    for (const auto& [name, values] : optimizer.buffers) {
        arrays.push_back(io::NamedArray::float32("optimizer." + name, {values.size()}, values));
    }
    for (const auto& [name, count] : optimizer.counters) {
        arrays.push_back(count_array("optimizer." + name, count));
    }
    const std::vector<std::mt19937_64*> generators = trainer.model().generators();
    for (std::size_t g = 0; g < generators.size(); ++g) {
        std::ostringstream text;
        text << *generators[g];
        arrays.push_back(text_array(fmt::format("meta.generator.{}", g), text.str()));
    }
    arrays.push_back(count_array("meta.epochs_done", state.epochs_done));
    std::vector<double> history;
    for (const EpochMetrics& m : state.history) {
        history.insert(history.end(), {double(m.epoch), m.train_loss, m.train_accuracy, m.test_loss,
                                       m.test_accuracy, m.seconds});
    }
    arrays.push_back(io::NamedArray::float64(
        "meta.history", {state.history.size(), history_columns}, std::move(history)));
    io::save_npz(path, arrays);
}

RunFile::RunFile(const std::string& bytes, std::string source)
    : arrays_(
          io::parse_npz(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), source)),
      source_(std::move(source)) {
    for (const char* required :
         {"meta.recipe", "meta.normalization", "meta.features", "meta.classes"}) {
        if (!find(required)) {
            throw FormatError(fmt::format(
                "{}: no entry '{}': not a model file or checkpoint written by tapegrad-train",
                source_, required));
        }
    }
}

const io::NamedArray* RunFile::find(const std::string& name) const {
    for (const io::NamedArray& array : arrays_) {
        if (array.name == name) return &array;
    }
    return nullptr;
}

const io::NamedArray& RunFile::at(const std::string& name) const {
    const io::NamedArray* array = find(name);
    if (!array) throw FormatError(fmt::format("{}: no entry '{}'", source_, name));
    return *array;
}

std::string RunFile::text(const std::string& name) const {
    const std::vector<std::uint8_t>& bytes = at(name).as_uint8();
    return std::string(bytes.begin(), bytes.end());
}

bool RunFile::is_checkpoint() const {
    return find("meta.epochs_done") != nullptr;
}

Options RunFile::recipe() const {
    return options_from_recipe(text("meta.recipe"));
}

ModelInputs RunFile::inputs() const {
    const std::vector<float>& normalization = at("meta.normalization").as_float32();
    const auto count = [&](const char* name) {
        return std::size_t(single_count(at(name), source_));
    };
    if (normalization.size() != 2)
        throw FormatError(fmt::format("{}: entry 'meta.normalization' needs 2 values, has {}",
                                      source_, normalization.size()));
    return {{normalization[0], normalization[1]}, count("meta.features"), count("meta.classes")};
}

RunState RunFile::restore(Trainer& trainer) const {
    nn::load_state_arrays(trainer.model(), arrays_, source_);
    RunState state;
    if (!is_checkpoint()) return state;

    optim::OptimizerState<float> optimizer;
    for (const io::NamedArray& array : arrays_) {
        if (array.name.rfind("optimizer.", 0) != 0) continue;
        const std::string name = array.name.substr(std::string("optimizer.").size());
        if (array.dtype() == io::DType::int64) {
            optimizer.counters[name] = single_count(array, source_);
        } else {
            optimizer.buffers[name] = array.as_float32();
        }
    }
    trainer.optimizer().load_state(optimizer);

    const std::vector<std::mt19937_64*> generators = trainer.model().generators();
    for (std::size_t g = 0; g < generators.size(); ++g) {
        std::istringstream text(this->text(fmt::format("meta.generator.{}", g)));
        text >> *generators[g];
        if (!text) {
            throw FormatError(
                fmt::format("{}: entry 'meta.generator.{}' is not a generator state", source_, g));
        }
    }

    state.epochs_done = int(single_count(at("meta.epochs_done"), source_));
    const io::NamedArray& history = at("meta.history");
    const std::vector<double>& rows = history.as_float64();
    if (history.shape.size() != 2 || history.shape[1] != history_columns) {
        throw FormatError(
            fmt::format("{}: entry 'meta.history' needs {} columns", source_, history_columns));
    }
    for (std::size_t r = 0; r < history.shape[0]; ++r) {
        const double* row = rows.data() + r * history_columns;
        state.history.push_back({int(row[0]), row[1], row[2], row[3], row[4], row[5]});
    }
    return state;
}

} // namespace tapegrad::train
