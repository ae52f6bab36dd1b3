#include "tapegrad/data/idx.hpp"

#include "io/file_bytes.hpp"
#include "tapegrad/errors.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <system_error>

namespace tapegrad::data {
namespace {

constexpr std::uint8_t kUnsignedByteType = 0x08;
constexpr std::size_t kMaxDims = 4;
// Guards against gzip bombs: real IDX datasets are far smaller than this.
constexpr std::size_t kMaxDecompressedBytes = std::size_t{1} << 30;

std::string hex_byte(std::uint8_t byte) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", byte);
    return text;
}

std::string type_name(std::uint8_t code) {
    switch (code) {
    case 0x08:
        return "unsigned byte";
    case 0x09:
        return "signed byte";
    case 0x0b:
        return "int16";
    case 0x0c:
        return "int32";
    case 0x0d:
        return "float32";
    case 0x0e:
        return "float64";
    default:
        return "unknown";
    }
}

std::string join_dims(const std::vector<std::size_t>& shape) {
    std::ostringstream text;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        text << (i == 0 ? "" : " x ") << shape[i];
    }
    return text.str();
}

// Checks the header and returns the shape in an array without values, and the header's
// size. `context` ("operation: source") prefixes every error message, so that read_idx and
// parse_idx report under their own names.
std::pair<IdxArray, std::size_t> parse_header(const std::uint8_t* bytes, std::size_t size,
                                              const std::string& context) {
    if (size < 4) {
        throw FormatError(context + ": an IDX header needs at least 4 bytes, file has " +
                          std::to_string(size));
    }
    if (bytes[0] != 0 || bytes[1] != 0) {
        throw FormatError(context + ": not an IDX file: magic starts with " + hex_byte(bytes[0]) +
                          " " + hex_byte(bytes[1]) + ", expected 0x00 0x00");
    }
    const std::uint8_t type = bytes[2];
    if (type != kUnsignedByteType) {
        throw FormatError(context + ": type code " + hex_byte(type) + " (" + type_name(type) +
                          ") is not supported, expected 0x08 (unsigned byte)");
    }
    const std::size_t rank = bytes[3];
    if (rank < 1 || rank > kMaxDims) {
        throw FormatError(context + ": header says " + std::to_string(rank) +
                          " dimensions, expected 1 to " + std::to_string(kMaxDims));
    }
    const std::size_t header_size = 4 + 4 * rank;
    if (size < header_size) {
        throw FormatError(context + ": header with " + std::to_string(rank) + " dimensions needs " +
                          std::to_string(header_size) + " bytes, file has " + std::to_string(size));
    }

    IdxArray array;
    std::size_t count = 1;
    for (std::size_t i = 0; i < rank; ++i) {
        const std::uint8_t* field = bytes + 4 + 4 * i;
        const std::size_t dim = std::size_t{field[0]} << 24 | std::size_t{field[1]} << 16 |
                                std::size_t{field[2]} << 8 | std::size_t{field[3]};
        if (dim == 0) {
            throw FormatError(context + ": dimension " + std::to_string(i) + " is 0");
        }
        array.shape.push_back(dim);
        if (count > std::numeric_limits<std::size_t>::max() / dim) {
            throw FormatError(context + ": dimensions " + join_dims(array.shape) +
                              " overflow the element count");
        }
        count *= dim;
    }

    const std::size_t data_size = size - header_size;
    if (count != data_size) {
        throw FormatError(context + ": header says " + join_dims(array.shape) + " = " +
                          std::to_string(count) + " bytes of data, file has " +
                          std::to_string(data_size) +
                          (data_size < count ? " (truncated)" : " (trailing bytes)"));
    }
    return {std::move(array), header_size};
}

IdxArray parse(const std::uint8_t* bytes, std::size_t size, const std::string& context) {
    auto [array, header_size] = parse_header(bytes, size, context);
    array.values.assign(bytes + header_size, bytes + size);
    return std::move(array);
}

// The same on a buffer it may take over: the data moves to the front in place, so a large
// file is held once.
IdxArray parse(std::vector<std::uint8_t>&& contents, const std::string& context) {
    auto [array, header_size] = parse_header(contents.data(), contents.size(), context);
    contents.erase(contents.begin(), contents.begin() + static_cast<std::ptrdiff_t>(header_size));
    array.values = std::move(contents);
    return std::move(array);
}

// Owns a zlib inflate stream so it is released on every exit path.
struct InflateStream {
    z_stream stream{};
    explicit InflateStream(const std::string& context) {
        // 16 + MAX_WBITS: expect a gzip header and trailer rather than a zlib one.
        const int status = inflateInit2(&stream, 16 + MAX_WBITS);
        if (status == Z_MEM_ERROR) {
            throw std::bad_alloc();
        }
        if (status != Z_OK) {
            throw Error(context + ": cannot initialise zlib (error " + std::to_string(status) +
                        ")");
        }
    }
    ~InflateStream() { inflateEnd(&stream); }
    InflateStream(const InflateStream&) = delete;
    InflateStream& operator=(const InflateStream&) = delete;
};

// Decompresses a gzip file held in memory, one or more concatenated members (as gunzip
// accepts), feeding input and growing the output in bounded chunks because zlib counts in
// 32-bit units.
std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& compressed,
                                 const std::string& context) {
    constexpr std::size_t kInputChunk = std::size_t{1} << 20;
    constexpr std::size_t kFirstOutputChunk = std::size_t{1} << 16;
    InflateStream inflater(context);
    z_stream& stream = inflater.stream;
    std::vector<std::uint8_t> output;
    // The trailer's last four bytes give the (last member's) size modulo 2^32: room for it
    // up front spares the copies of a growing buffer when, as usual, there is one member.
    if (compressed.size() >= 18) {
        const std::uint8_t* t = compressed.data() + compressed.size() - 4;
        const std::size_t expected = std::size_t{t[0]} | std::size_t{t[1]} << 8 |
                                     std::size_t{t[2]} << 16 | std::size_t{t[3]} << 24;
        if (expected <= kMaxDecompressedBytes) output.reserve(expected);
    }
    std::size_t consumed = 0; // input bytes handed to zlib so far
    for (;;) {
        if (stream.avail_in == 0 && consumed < compressed.size()) {
            const std::size_t chunk = std::min(kInputChunk, compressed.size() - consumed);
            // zlib's next_in is not const-qualified in older versions but never writes.
            stream.next_in = const_cast<Bytef*>(compressed.data() + consumed);
            stream.avail_in = static_cast<uInt>(chunk);
            consumed += chunk;
        }
        if (stream.avail_out == 0) {
            // One byte beyond the cap lets an over-long stream be detected below.
            const std::size_t grown =
                std::min(std::max({kFirstOutputChunk, 2 * output.size(), output.capacity()}),
                         kMaxDecompressedBytes + 1);
            const std::size_t produced = output.size();
            output.resize(grown);
            stream.next_out = output.data() + produced;
            stream.avail_out = static_cast<uInt>(grown - produced);
        }
        const int status = inflate(&stream, Z_NO_FLUSH);
        const std::size_t produced = output.size() - stream.avail_out;
        if (produced > kMaxDecompressedBytes) {
            throw FormatError(context + ": gzip data decompresses to more than " +
                              std::to_string(kMaxDecompressedBytes) + " bytes");
        }
        if (status == Z_STREAM_END) {
            if (stream.avail_in == 0 && consumed == compressed.size()) {
                output.resize(produced);
                return output;
            }
            inflateReset(&stream); // another gzip member follows
        } else if (status == Z_BUF_ERROR && stream.avail_in == 0 && consumed == compressed.size()) {
            throw FormatError(context + ": gzip stream is truncated: input ended after " +
                              std::to_string(compressed.size()) + " compressed bytes (" +
                              std::to_string(produced) + " decompressed)");
        } else if (status == Z_MEM_ERROR) {
            throw std::bad_alloc();
        } else if (status != Z_OK) {
            throw FormatError(context + ": broken gzip stream: " +
                              (stream.msg ? stream.msg : "zlib error " + std::to_string(status)));
        }
    }
}

bool is_gzip(const std::vector<std::uint8_t>& bytes) {
    return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

} // namespace

IdxArray parse_idx(const std::uint8_t* bytes, std::size_t size, const std::string& source) {
    return parse(bytes, size, "parse_idx: " + source);
}

IdxArray read_idx(const std::string& path) {
    const std::string context = "read_idx: " + path;
    std::vector<std::uint8_t> contents = io::read_file(path, context);
    if (is_gzip(contents)) contents = gunzip(contents, context);
    return parse(std::move(contents), context);
}

ImageClassificationSet load_mnist_format(const std::string& directory) {
    const std::string context = "load_mnist_format: " + directory;
    const auto load = [&](const std::string& name) {
        const std::string base = (std::filesystem::path(directory) / name).string();
        for (const std::string& candidate : {base + ".gz", base}) {
            std::error_code error; // an unreadable entry counts as absent
            if (std::filesystem::exists(candidate, error)) {
                return read_idx(candidate);
            }
        }
        throw FormatError(context + ": directory has neither " + name + ".gz nor " + name);
    };
    const auto check_pair = [&](const IdxArray& images, const std::string& images_name,
                                const IdxArray& labels, const std::string& labels_name) {
        if (images.shape.size() != 3) {
            throw FormatError(context + ": " + images_name + " has shape " +
                              join_dims(images.shape) +
                              ", expected 3 dimensions (count x rows x columns)");
        }
        if (labels.shape.size() != 1) {
            throw FormatError(context + ": " + labels_name + " has shape " +
                              join_dims(labels.shape) + ", expected 1 dimension (count)");
        }
        if (images.shape[0] != labels.shape[0]) {
            throw FormatError(context + ": " + images_name + " has " +
                              std::to_string(images.shape[0]) + " images but " + labels_name +
                              " has " + std::to_string(labels.shape[0]) + " labels");
        }
    };

    ImageClassificationSet set;
    set.train_images = load("train-images-idx3-ubyte");
    set.train_labels = load("train-labels-idx1-ubyte");
    set.test_images = load("t10k-images-idx3-ubyte");
    set.test_labels = load("t10k-labels-idx1-ubyte");
    check_pair(set.train_images, "train-images-idx3-ubyte", set.train_labels,
               "train-labels-idx1-ubyte");
    check_pair(set.test_images, "t10k-images-idx3-ubyte", set.test_labels,
               "t10k-labels-idx1-ubyte");
    // A model trained on one image size cannot be evaluated on another.
    const std::vector<std::size_t> train_size(set.train_images.shape.begin() + 1,
                                              set.train_images.shape.end());
    const std::vector<std::size_t> test_size(set.test_images.shape.begin() + 1,
                                             set.test_images.shape.end());
    if (train_size != test_size) {
        throw FormatError(context + ": train images are " + join_dims(train_size) +
                          " but test images are " + join_dims(test_size));
    }
    return set;
}

} // namespace tapegrad::data
