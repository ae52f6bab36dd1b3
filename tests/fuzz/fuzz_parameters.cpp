// libFuzzer target for parameter files: any bytes go through parse_npz, and those it accepts
// are loaded into a small fixed MLP with load_parameters. The load must succeed exactly when
// the entries match the model's parameters by name, shape and dtype (float32), must then copy
// their values, and must leave the model unchanged when it throws.

#include "tapegrad/errors.hpp"
#include "tapegrad/io/npz.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/parameters_file.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

namespace io = tapegrad::io;
namespace nn = tapegrad::nn;
using Model = nn::Sequential<float>;
using Shapes = std::map<std::string, tapegrad::Shape>;

[[noreturn]] void fail(const char* problem) {
    std::fprintf(stderr, "fuzz_parameters: %s\n", problem);
    std::abort();
}

Model& model() {
    static Model mlp = [] {
        std::mt19937_64 rng(1);
        return nn::make_mlp<float>({4, 3, 2}, nn::ActivationKind::relu, rng);
    }();
    return mlp;
}

// load_parameters reads a path: each input is written to this process's own file, loaded
// and removed.
const std::string& input_path() {
    static const std::string path =
        "/tmp/tapegrad-fuzz-parameters-" + std::to_string(getpid()) + ".npz";
    return path;
}

void write_input_file(const std::uint8_t* data, std::size_t size) {
    std::FILE* file = std::fopen(input_path().c_str(), "wb");
    const bool written = file && std::fwrite(data, 1, size, file) == size;
    if (!file || std::fclose(file) != 0 || !written) fail("cannot write the input file");
}

Shapes model_shapes() {
    Shapes shapes;
    for (const auto& [name, tensor] : model().named_parameters()) shapes[name] = tensor->shape();
    return shapes;
}

// All parameter values, in named_parameters() order.
std::vector<float> model_values() {
    std::vector<float> values;
    for (const auto& [name, tensor] : model().named_parameters()) {
        values.insert(values.end(), tensor->data(), tensor->data() + tensor->size());
    }
    return values;
}

// Bitwise, so that NaN values compare equal to themselves.
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<io::NamedArray> arrays;
    try {
        arrays = io::parse_npz(data, size, "fuzz");
    } catch (const tapegrad::Error&) {
        return 0;
    }

    Shapes file_shapes;
    bool all_float32 = true;
    for (const io::NamedArray& array : arrays) {
        file_shapes[array.name] = array.shape;
        all_float32 = all_float32 && array.dtype() == io::DType::float32;
    }
    const bool fits = file_shapes == model_shapes() && all_float32;

    write_input_file(data, size);
    const std::vector<float> before = model_values();
    bool loaded = true;
    try {
        nn::load_parameters(model(), input_path());
    } catch (const tapegrad::Error&) {
        loaded = false;
    }
    std::remove(input_path().c_str());
    if (!loaded) {
        if (fits) fail("load_parameters rejected entries that match the model");
        if (!same_bits(model_values(), before)) fail("a failed load_parameters changed the model");
        return 0;
    }
    if (!fits) fail("load_parameters accepted entries that do not match the model");

    std::vector<float> expected;
    for (const auto& parameter : model().named_parameters()) {
        for (const io::NamedArray& array : arrays) {
            if (array.name == parameter.name) {
                const std::vector<float>& values = array.as_float32();
                expected.insert(expected.end(), values.begin(), values.end());
            }
        }
    }
    if (!same_bits(model_values(), expected)) fail("load_parameters loaded other values");
    return 0;
}
