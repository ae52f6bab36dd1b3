#include "io/file_bytes.hpp"

#include "tapegrad/errors.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace tapegrad::io {

std::vector<std::uint8_t> read_file(const std::string& path, const std::string& context) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) throw FormatError(context + ": cannot open file: " + std::strerror(errno));
    std::vector<std::uint8_t> contents;
    std::uint8_t buffer[1 << 16];
    std::size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
        contents.insert(contents.end(), buffer, buffer + got);
    }
    if (std::ferror(file.get()))
        throw FormatError(context + ": cannot read file: " + std::strerror(errno));
    return contents;
}

} // namespace tapegrad::io
