// libFuzzer target for the IDX parser: any bytes must either parse into an array that
// describes exactly the bytes after the header, or throw tapegrad::Error.

#include "tapegrad/data/idx.hpp"
#include "tapegrad/errors.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    tapegrad::data::IdxArray array;
    try {
        array = tapegrad::data::parse_idx(data, size, "fuzz");
    } catch (const tapegrad::Error&) {
        return 0;
    }
    std::size_t count = 1;
    for (const std::size_t extent : array.shape) count *= extent;
    const std::size_t header_size = 4 + 4 * array.shape.size();
    const bool consistent = !array.shape.empty() && array.shape.size() <= 4 &&
                            count == array.values.size() && header_size + count == size &&
                            std::memcmp(array.values.data(), data + header_size, count) == 0;
    if (!consistent) {
        std::fprintf(stderr, "fuzz_idx: parse_idx accepted the input but its array does not match "
                             "the bytes\n");
        std::abort();
    }
    return 0;
}
