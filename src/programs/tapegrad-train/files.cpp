#include "files.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace tapegrad::train {

std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw FormatError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& contents) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
        file.write(contents.data(), std::streamsize(contents.size()));
        file.close();
        if (!file) {
            std::remove(temporary.c_str());
            throw FormatError(fmt::format("cannot write {}", path));
        }
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        throw FormatError(fmt::format("cannot write {}: {}", path, reason));
    }
}

} // namespace tapegrad::train
