#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tapegrad::io {

/// The whole contents of a file; throws FormatError, prefixed with `context`, when it cannot
/// be opened or read.
std::vector<std::uint8_t> read_file(const std::string& path, const std::string& context);

} // namespace tapegrad::io
