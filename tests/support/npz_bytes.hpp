#pragma once
// Builds .npy and .npz files by hand in tests, independently of tapegrad's writer, so that
// files the library never writes (unsupported dtypes, deflated or duplicate entries, ZIP64
// records) can be made.

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

inline Bytes float64_data(const std::vector<double>& values) {
    Bytes data;
    for (const double value : values) {
        std::uint64_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        append_le(data, bits, 8);
    }
    return data;
}

inline Bytes int64_data(const std::vector<std::int64_t>& values) {
    Bytes data;
    for (const std::int64_t value : values) append_le(data, static_cast<std::uint64_t>(value), 8);
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

enum class Zip64 {
    none,
    // What np.savez writes (Python's zipfile with force_zip64): each local header keeps its
    // sizes in a ZIP64 extra field; the central directory and end record are classic.
    local_headers,
    // What archives beyond 4 GiB hold: ZIP64 sizes and offsets in the central directory too,
    // and a ZIP64 end record with its locator before the classic end record, whose fields
    // all say "see the ZIP64 record".
    everywhere,
};

// A minimal ZIP writer (PKWARE APPNOTE 4.3.7, 4.3.12, 4.3.14 to 4.3.16, 4.5.3).
inline Bytes make_zip(const std::vector<ZipEntry>& entries, Zip64 zip64 = Zip64::none) {
    constexpr std::uint64_t kMarker16 = 0xffff;
    constexpr std::uint64_t kMarker32 = 0xffffffff;
    const bool local64 = zip64 != Zip64::none;
    const bool central64 = zip64 == Zip64::everywhere;
    const std::uint64_t version = local64 ? 45 : 20; // 4.5 is the first with ZIP64
    Bytes archive;
    Bytes directory;
    for (const ZipEntry& entry : entries) {
        const Bytes data = entry.method == 8 ? raw_deflate(entry.contents) : entry.contents;
        const std::uint64_t offset = archive.size();
        // From "version needed" to "extra field length"; ZIP64 sizes go in the extra field.
        const auto fields = [&](Bytes& out, bool sizes64, std::size_t extra_size) {
            append_le(out, version, 2);
            append_le(out, 0, 2);
            append_le(out, entry.method, 2);
            append_le(out, 0, 2);    // time 00:00
            append_le(out, 0x21, 2); // date 1980-01-01, as tapegrad writes
            append_le(out,
                      crc32(0, entry.contents.data(), static_cast<uInt>(entry.contents.size())), 4);
            append_le(out, sizes64 ? kMarker32 : data.size(), 4);
            append_le(out, sizes64 ? kMarker32 : entry.contents.size(), 4);
            append_le(out, entry.name.size(), 2);
            append_le(out, extra_size, 2);
        };
        append_le(directory, 0x02014b50, 4);
        append_le(directory, version, 2); // made by
        fields(directory, central64, central64 ? 4 + 24 : 0);
        append_le(directory, 0, 6); // comment length, disk number, internal attributes
        append_le(directory, 0, 4); // external attributes
        append_le(directory, central64 ? kMarker32 : offset, 4);
        directory.insert(directory.end(), entry.name.begin(), entry.name.end());
        if (central64) {
            append_le(directory, 0x0001, 2); // ZIP64 extended information
            append_le(directory, 24, 2);
            append_le(directory, entry.contents.size(), 8);
            append_le(directory, data.size(), 8);
            append_le(directory, offset, 8);
        }

        append_le(archive, 0x04034b50, 4);
        fields(archive, local64, local64 ? 4 + 16 : 0);
        archive.insert(archive.end(), entry.name.begin(), entry.name.end());
        if (local64) {
            append_le(archive, 0x0001, 2);
            append_le(archive, 16, 2);
            append_le(archive, entry.contents.size(), 8);
            append_le(archive, data.size(), 8);
        }
        archive.insert(archive.end(), data.begin(), data.end());
    }
    const std::size_t directory_offset = archive.size();
    archive.insert(archive.end(), directory.begin(), directory.end());
    if (central64) {
        const std::size_t record_offset = archive.size();
        append_le(archive, 0x06064b50, 4); // ZIP64 end of central directory record
        append_le(archive, 44, 8);         // size of the rest of the record
        append_le(archive, version, 2);    // made by
        append_le(archive, version, 2);    // needed
        append_le(archive, 0, 4);          // this disk
        append_le(archive, 0, 4);          // disk with the central directory
        append_le(archive, entries.size(), 8);
        append_le(archive, entries.size(), 8);
        append_le(archive, directory.size(), 8);
        append_le(archive, directory_offset, 8);
        append_le(archive, 0x07064b50, 4); // ZIP64 end of central directory locator
        append_le(archive, 0, 4);          // disk with the ZIP64 record
        append_le(archive, record_offset, 8);
        append_le(archive, 1, 4); // total disks
    }
    append_le(archive, 0x06054b50, 4);
    append_le(archive, 0, 4);
    append_le(archive, central64 ? kMarker16 : entries.size(), 2);
    append_le(archive, central64 ? kMarker16 : entries.size(), 2);
    append_le(archive, central64 ? kMarker32 : directory.size(), 4);
    append_le(archive, central64 ? kMarker32 : directory_offset, 4);
    append_le(archive, 0, 2);
    return archive;
}

} // namespace tapegrad::testing
