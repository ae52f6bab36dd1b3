#include "tapegrad/nn/parameters_file.hpp"

#include "tapegrad/detail/shape.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/io/npz.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace tapegrad::nn {

using detail::format_shape;

template <class T> void save_parameters(Module<T>& module, const std::string& path) {
    std::vector<io::NamedArray> arrays;
    for (const auto& [name, tensor] : module.named_state()) {
        arrays.push_back(io::NamedArray::float32(
            name, tensor->shape(),
            std::vector<float>(tensor->data(), tensor->data() + tensor->size())));
    }
    io::save_npz(path, arrays);
}

template <class T> void load_parameters(Module<T>& module, const std::string& path) {
    std::map<std::string, io::NamedArray> entries;
    for (io::NamedArray& array : io::load_npz(path)) entries.emplace(array.name, std::move(array));

    auto parameters = module.named_state();
    for (const auto& [name, tensor] : parameters) {
        const auto entry = entries.find(name);
        if (entry == entries.end()) {
            throw FormatError(fmt::format(
                "load_parameters: {} has no entry '{}' for the model's tensor of shape {}", path,
                name, format_shape(tensor->shape())));
        }
        if (entry->second.dtype() != io::DType::float32) {
            throw FormatError(fmt::format(
                "load_parameters: {}: entry '{}' has dtype '{}', expected '{}' (float32)", path,
                name, io::npy_descr(entry->second.dtype()), io::npy_descr(io::DType::float32)));
        }
        if (entry->second.shape != tensor->shape()) {
            throw FormatError(fmt::format(
                "load_parameters: {}: entry '{}' has shape {}, the model's tensor has shape {}",
                path, name, format_shape(entry->second.shape), format_shape(tensor->shape())));
        }
    }
    if (entries.size() != parameters.size()) {
        for (const auto& entry : entries) {
            const std::string& name = entry.first;
            const bool known = std::any_of(parameters.begin(), parameters.end(),
                                           [&](const auto& p) { return p.name == name; });
            if (!known) {
                throw FormatError(fmt::format(
                    "load_parameters: {}: entry '{}' of shape {} is not a parameter of the model",
                    path, name, format_shape(entry.second.shape)));
            }
        }
    }
    // Every entry is float32 and fits its tensor: nothing below throws.
    for (auto& [name, tensor] : parameters) {
        const std::vector<float>& values = entries.at(name).as_float32();
        std::transform(values.begin(), values.end(), tensor->mutable_data(),
                       [](float v) { return static_cast<T>(v); });
    }
}

template void save_parameters(Module<float>&, const std::string&);
template void save_parameters(Module<double>&, const std::string&);
template void load_parameters(Module<float>&, const std::string&);
template void load_parameters(Module<double>&, const std::string&);

} // namespace tapegrad::nn
