#include "tapegrad/nn/parameters_file.hpp"

#include "tapegrad/detail/shape.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/io/npz.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace tapegrad::nn {

using detail::format_shape;

namespace {
/// Entries that describe a run (tapegrad-train's metadata and optimizer state).
bool describes_the_run(const std::string& name) {
    return name.rfind("meta.", 0) == 0 || name.rfind("optimizer.", 0) == 0;
}
} // namespace

template <class T> std::vector<io::NamedArray> state_arrays(Module<T>& module) {
    std::vector<io::NamedArray> arrays;
    for (const auto& [name, tensor] : module.named_state()) {
        arrays.push_back(io::NamedArray::float32(
            name, tensor->shape(),
            std::vector<float>(tensor->data(), tensor->data() + tensor->size())));
    }
    return arrays;
}

template <class T> void save_parameters(Module<T>& module, const std::string& path) {
    io::save_npz(path, state_arrays(module));
}

template <class T>
void load_state_arrays(Module<T>& module, const std::vector<io::NamedArray>& arrays,
                       const std::string& source) {
    std::map<std::string, const io::NamedArray*> entries;
    for (const io::NamedArray& array : arrays) {
        if (!describes_the_run(array.name)) entries.emplace(array.name, &array);
    }

    auto parameters = module.named_state();
    for (const auto& [name, tensor] : parameters) {
        const auto entry = entries.find(name);
        if (entry == entries.end()) {
            throw FormatError(fmt::format(
                "load_parameters: {} has no entry '{}' for the model's tensor of shape {}", source,
                name, format_shape(tensor->shape())));
        }
        const io::NamedArray& array = *entry->second;
        if (array.dtype() != io::DType::float32) {
            throw FormatError(fmt::format(
                "load_parameters: {}: entry '{}' has dtype '{}', expected '{}' (float32)", source,
                name, io::npy_descr(array.dtype()), io::npy_descr(io::DType::float32)));
        }
        if (array.shape != tensor->shape()) {
            throw FormatError(fmt::format(
                "load_parameters: {}: entry '{}' has shape {}, the model's tensor has shape {}",
                source, name, format_shape(array.shape), format_shape(tensor->shape())));
        }
    }
    for (const auto& entry : entries) {
        const std::string& name = entry.first;
        const bool known = std::any_of(parameters.begin(), parameters.end(),
                                       [&](const auto& p) { return p.name == name; });
        if (!known) {
            throw FormatError(fmt::format(
                "load_parameters: {}: entry '{}' of shape {} is not a parameter of the model",
                source, name, format_shape(entry.second->shape)));
        }
    }
    // Every entry is float32 and fits its tensor: nothing below throws.
    for (auto& [name, tensor] : parameters) {
        const std::vector<float>& values = entries.at(name)->as_float32();
        std::transform(values.begin(), values.end(), tensor->mutable_data(),
                       [](float v) { return static_cast<T>(v); });
    }
}

template <class T> void load_parameters(Module<T>& module, const std::string& path) {
    load_state_arrays(module, io::load_npz(path), path);
}

template void save_parameters(Module<float>&, const std::string&);
template void save_parameters(Module<double>&, const std::string&);
template void load_parameters(Module<float>&, const std::string&);
template void load_parameters(Module<double>&, const std::string&);
template std::vector<io::NamedArray> state_arrays(Module<float>&);
template std::vector<io::NamedArray> state_arrays(Module<double>&);
template void load_state_arrays(Module<float>&, const std::vector<io::NamedArray>&,
                                const std::string&);
template void load_state_arrays(Module<double>&, const std::vector<io::NamedArray>&,
                                const std::string&);

} // namespace tapegrad::nn
