#pragma once
// Whole-file reads and writes for the program's outputs.

#include <string>

namespace tapegrad::train {

/// The bytes of a file; throws FormatError naming it when it cannot be read.
std::string read_file(const std::string& path);

/// Writes `contents` to `path + ".tmp"` and renames it over `path`, so that a killed run
/// leaves either the old file or the new one. Throws FormatError naming the file.
void write_file(const std::string& path, const std::string& contents);

} // namespace tapegrad::train
