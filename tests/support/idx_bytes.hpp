#pragma once
// Builds IDX files in tests.

#include <cstdint>
#include <vector>

namespace tapegrad::testing {

using Bytes = std::vector<std::uint8_t>;

/// An IDX file: two zero bytes, the type code, the rank, big-endian dims, then the data.
inline Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data,
                       std::uint8_t type = 0x08) {
    Bytes bytes = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (const std::uint32_t dim : dims) {
        for (const int shift : {24, 16, 8, 0})
            bytes.push_back(static_cast<std::uint8_t>(dim >> shift));
    }
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

} // namespace tapegrad::testing
