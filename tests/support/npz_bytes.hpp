#pragma once
// Builds .npy and .npz files by hand in tests, independently of tapegrad's writer, so that
// files the library never writes (other dtypes, deflated or duplicate entries) can be made.

#include "idx_bytes.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tapegrad::testing {

inline Bytes to_bytes(const std::string& text) {
    return Bytes(text.begin(), text.end());
}

inline void append_le(Bytes& out, std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) {
        out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
}

// Builds an .npy file by hand from a header dict, padded the way NumPy pads it.
inline Bytes npy_bytes(const std::string& dict, const Bytes& data, int major = 1) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) {
        header += ' ';
    }
    header += '\n';
    Bytes bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
    append_le(bytes, header.size(), major == 1 ? 2 : 4);
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

inline Bytes float32_data(const std::vector<float>& values) {
    Bytes data;
    for (const float value : values) {
        std::uint32_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        append_le(data, bits, 4);
    }
    return data;
}

inline Bytes raw_deflate(const Bytes& input) {
    z_stream stream{};
    EXPECT_EQ(
        deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    Bytes output(deflateBound(&stream, static_cast<uLong>(input.size())));
    stream.next_in = const_cast<Bytef*>(input.data());
    stream.avail_in = static_cast<uInt>(input.size());
    stream.next_out = output.data();
    stream.avail_out = static_cast<uInt>(output.size());
    EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
    output.resize(stream.total_out);
    deflateEnd(&stream);
    return output;
}

struct ZipEntry {
    std::string name;
    Bytes contents;
    std::uint16_t method = 0; // 0 stored, 8 deflated; anything else is written stored
};

// A minimal ZIP writer.
inline Bytes make_zip(const std::vector<ZipEntry>& entries) {
    Bytes archive;
    Bytes directory;
    for (const ZipEntry& entry : entries) {
        const Bytes data = entry.method == 8 ? raw_deflate(entry.contents) : entry.contents;
        const auto fields = [&](Bytes& out) {
            append_le(out, 20, 2);
            append_le(out, 0, 2);
            append_le(out, entry.method, 2);
            append_le(out, 0, 2);    // time 00:00
            append_le(out, 0x21, 2); // date 1980-01-01, as tapegrad writes
            append_le(out,
                      crc32(0, entry.contents.data(), static_cast<uInt>(entry.contents.size())), 4);
            append_le(out, data.size(), 4);
            append_le(out, entry.contents.size(), 4);
            append_le(out, entry.name.size(), 2);
            append_le(out, 0, 2);
        };
        append_le(directory, 0x02014b50, 4);
        append_le(directory, 20, 2);
        fields(directory);
        append_le(directory, 0, 6); // comment length, disk number, internal attributes
        append_le(directory, 0, 4); // external attributes
        append_le(directory, archive.size(), 4);
        directory.insert(directory.end(), entry.name.begin(), entry.name.end());

        append_le(archive, 0x04034b50, 4);
        fields(archive);
        archive.insert(archive.end(), entry.name.begin(), entry.name.end());
        archive.insert(archive.end(), data.begin(), data.end());
    }
    const std::size_t directory_offset = archive.size();
    archive.insert(archive.end(), directory.begin(), directory.end());
    append_le(archive, 0x06054b50, 4);
    append_le(archive, 0, 4);
    append_le(archive, entries.size(), 2);
    append_le(archive, entries.size(), 2);
    append_le(archive, directory.size(), 4);
    append_le(archive, directory_offset, 4);
    append_le(archive, 0, 2);
    return archive;
}

} // namespace tapegrad::testing
